"""A picture attached to a chat question: the uploader above the question box and the answer the
vision model gives (``POST /api/chat`` with ``images``, through the client). Such a turn is shown on
the page and not kept in the conversation; without a vision model the server says so and the page
shows its reason."""

from __future__ import annotations

from typing import Any

import streamlit as st

from zhiku.errors import ZhikuError
from zhiku.ui import session
from zhiku.ui.render import escape_markdown
from zhiku.ui.views.chat_messages import Shown, show_message

TYPES = ["png", "jpg", "jpeg", "gif", "webp"]
_TEXT = {
    "en": {"label": "Ask about a picture (sent to the vision model)",
           "note": "Answered by the vision model; this turn is not kept in the conversation."},
    "zh": {"label": "针对图片提问（发送给视觉模型）", "note": "由视觉模型回答；这一轮不保存在对话中。"},
}


def _t(key: str) -> str:
    from zhiku.ui.i18n import lang

    return _TEXT.get(lang(), _TEXT["en"]).get(key) or _TEXT["en"][key]


def picture_input(zk: Any) -> bytes | None:
    """The picture the next question is about, if one is attached. With no vision model on the server
    the uploader is shown disabled, with why (and the settings link the mode list shows)."""
    current = session.call(zk.get_settings, default=None)
    if current is not None and not current.vision_model:
        from zhiku.ui.i18n import t

        st.markdown(f":gray[:material/block: {escape_markdown(_t('label'))} — {t('needs_vision_model')}]")
        return None
    upload = st.file_uploader(_t("label"), type=TYPES, key="chat-picture")
    return upload.getvalue() if upload is not None else None


def answer_with_picture(zk: Any, question: str, picture: bytes, opts: dict[str, Any]) -> None:
    """Ask ``question`` about ``picture`` (kb mode: with the chosen KBs' passages) and show the answer."""
    mode = opts["mode"] if opts["mode"] in ("kb", "llm") else "llm"
    show_message(Shown(role="user", content=question), "picture-q")
    st.image(picture, width=240)
    try:
        with st.spinner("…"):
            reply = zk.ask_with_pictures(mode, question, [picture], kbs=opts.get("kbs") if mode == "kb" else None,
                                         model=opts.get("model") if mode == "llm" else None)
    except ZhikuError as exc:
        session.show_error(exc)
        return
    show_message(Shown.of(reply), "picture-a")
    st.caption(escape_markdown(_t("note")))
