"""The chat page: conversations (kept on the server, the open one's id in the URL as ``?c=``),
answer settings in the sidebar, streamed answers with sources and feedback, Markdown export."""

from __future__ import annotations

import time
from typing import Any, TypedDict

import streamlit as st

from zhiku.errors import ZhikuError
from zhiku.ui import session
from zhiku.ui.i18n import t
from zhiku.ui.messages import code_text, file_reason
from zhiku.ui.render import escape_markdown, short_title
from zhiku.ui.views.chat_messages import Shown, show_message, stream_answer
from zhiku.ui.views.chat_pictures import answer_with_picture, picture_input

SERVER_MODES = ("kb", "llm", "file", "search", "agent")
ALL_KBS = "*"  # kbs ["*"]: every KB the user may read, each question routed to those that fit it


class SidebarDefaults(TypedDict):
    temperature: float
    top_k: int
    strict: bool


DEFAULTS: SidebarDefaults = {"temperature": 0.3, "top_k": 5, "strict": True}  # the sidebar's starting values


def render() -> None:
    zk = session.client()
    kbs = session.call(zk.list_kbs, default=[]) or []
    cid = st.query_params.get("c")
    conv = session.call(zk.get_conversation, cid) if cid else None
    if st.session_state.pop("stopping", False) and conv is not None:
        conv = after_stop(zk, conv)
    if cid and conv is None:
        st.query_params.pop("c", None)
        cid = None
    if conv is not None and st.session_state.get("shown_conversation") != conv.id:
        # opening a conversation (a click, a link, a refresh) brings back how it answers
        st.session_state["shown_conversation"] = conv.id
        st.session_state["mode"] = conv.mode if conv.mode in SERVER_MODES else "kb"
        st.session_state["kbs_pick"] = [k for k in conv.settings.kbs if k in {kb.name for kb in kbs} | {ALL_KBS}]
    opts = sidebar(zk, [kb.name for kb in kbs])
    header(zk, cid)

    history = [Shown.of(m) for m in (conv.messages or [])] if conv is not None else []
    if not history and not kbs and opts["mode"] == "kb":
        first_run()
    elif not history:
        st.info(t("welcome"), icon=":material/waving_hand:")
    for i, msg in enumerate(history):
        show_message(msg, f"m{i}")

    picture = picture_input(zk)  # a picture to ask about: the vision model answers (chat_pictures.py)
    question = st.chat_input(t("ask_placeholder"))
    if not question:
        return
    if picture is not None:
        return answer_with_picture(zk, question, picture, opts)
    if opts["mode"] == "kb" and not opts["kbs"]:
        st.warning(t("pick_kb"))
        return
    turn = st.empty()  # the question and the answer as they stream; cleared when the turn fails
    created = cid is None
    try:
        with turn.container():
            show_message(Shown(role="user", content=question), "pending")
            cid = cid or new_conversation(zk, question, opts)
            # Stop reruns the page, which interrupts this stream: the server keeps what was written as "stopped"
            shown = stream_answer(zk.send_message_stream(cid, question, **message_args(opts)))
    except ZhikuError as exc:
        failed_turn(zk, turn, cid if created else None)
        if session.is_auth_error(exc):
            st.session_state["auth_required"] = True
        session.show_error(exc)
        return
    if shown.error:
        failed_turn(zk, turn, cid if created else None)
        st.error(escape_markdown(t("error", message=code_text(shown.error_kind, shown.error))), icon="⚠️")
        return
    st.rerun()


def failed_turn(zk: Any, turn: Any, new_cid: str | None) -> None:
    """A turn that failed ends cleanly: no Stop button or "thinking…" left on the page, and a
    conversation created for it alone is not kept (it would hold only the failure)."""
    turn.empty()
    if new_cid is not None:
        try:
            zk.delete_conversation(new_cid)
        except ZhikuError:  # already gone, or the server went away: nothing more to undo
            pass
        st.query_params.pop("c", None)
        st.session_state.pop("shown_conversation", None)


def first_run() -> None:
    """An empty home: what to do first (a KB, files, a question), what answers are without a model,
    and where to set one up."""
    pages = st.session_state.get("pages", {})
    with st.container(border=True):
        st.markdown(f"#### :material/waving_hand: {t('first_run_title')}")
        st.markdown(t("first_run_kb"))
        if "kbs" in pages:
            st.page_link(pages["kbs"], label=t("first_run_kb_link"), icon=":material/library_add:")
        st.markdown(t("first_run_ask"))
        st.markdown(t("first_run_model"))
        if "settings" in pages:
            st.page_link(pages["settings"], label=t("first_run_model_link"), icon=":material/settings:")


def after_stop(zk: Any, conv: Any) -> Any:
    """The conversation once the server has stored the answer that Stop cut short (a moment after the
    stream closed); at most ~3 s, then as it is."""
    for _ in range(15):
        if conv.messages and conv.messages[-1].role == "assistant":
            break
        time.sleep(0.2)
        conv = session.call(zk.get_conversation, conv.id) or conv
    return conv


def message_args(opts: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {"mode": opts["mode"], "top_k": opts["top_k"], "strict": opts["strict"],
                            "temperature": opts["temperature"]}
    if opts["mode"] in ("kb", "agent"):
        args["kbs"] = opts["kbs"]
    if opts.get("agentic"):
        args["agentic"] = True
    if opts["model"]:
        args["model"] = opts["model"]
    if opts["mode"] == "file" and st.session_state.get("temp_kb"):
        args["temp_kb"] = st.session_state["temp_kb"]
    return args


def new_conversation(zk: Any, question: str, opts: dict[str, Any]) -> str:
    title = short_title(question) or t("untitled")
    conv = zk.create_conversation(opts["mode"], title=title, kbs=opts["kbs"] or None, model=opts["model"])
    st.query_params["c"] = conv.id
    return conv.id


def header(zk: Any, cid: str | None) -> None:
    cols = st.columns([4, 1.4, 1.4, 1.8], vertical_alignment="bottom")
    cols[0].subheader(t("nav_chat"))
    if not cid:
        return
    with cols[1].popover(t("rename"), icon=":material/edit:"):
        with st.form("rename-conv", border=False):
            title = st.text_input(t("rename"), key="conv-title")
            if st.form_submit_button(t("save")) and title.strip():
                if session.call(zk.rename_conversation, cid, title.strip()) is not None:
                    st.rerun()
    with cols[2].popover(t("delete"), icon=":material/delete:"):
        st.write(t("confirm_delete_conversation"))
        if st.button(t("delete"), type="primary", key="conv-del"):
            session.call(zk.delete_conversation, cid)
            st.query_params.pop("c", None)
            st.rerun()
    cols[3].download_button(t("export_md"), icon=":material/download:", on_click="ignore",
                            data=lambda: zk.export_conversation(cid),
                            file_name=f"conversation-{cid}.md", mime="text/markdown")


def sidebar(zk: Any, kb_names: list[str]) -> dict[str, Any]:
    with st.sidebar:
        if st.button(t("new_conversation"), icon=":material/add_comment:", width="stretch"):
            st.query_params.pop("c", None)
            st.session_state.pop("shown_conversation", None)
            st.rerun()
        conversation_list(zk)
        missing = unavailable_modes(zk)
        modes = [m for m in SERVER_MODES if m not in missing]
        if st.session_state.get("mode") not in modes:  # e.g. a conversation whose model was removed since
            st.session_state["mode"] = "kb"
        with st.expander(t("mode"), expanded=True):
            mode = st.radio(t("mode"), modes, format_func=lambda m: t(f"mode_{m}"), key=in_language("mode"),
                            on_change=keep, args=("mode",), label_visibility="collapsed")
            st.session_state["mode"] = mode
            for m, reason in missing.items():  # shown, greyed, with why and where to change it
                st.markdown(f":gray[:material/block: {t('mode_' + m)} — {t(reason)}]")
            if missing:
                settings_link()
            chosen: list[str] = []
            if mode in ("kb", "agent"):  # agent mode: the KBs its KB search may read
                if "kbs_pick" in st.session_state:  # kept between pages; KBs deleted meanwhile drop out
                    st.session_state["kbs_pick"] = [n for n in st.session_state["kbs_pick"]
                                                    if n in kb_names or (n == ALL_KBS and mode == "kb")]
                default = None if "kbs_pick" in st.session_state else kb_names[:1]
                # kb mode's "all my KBs": the server routes each question to the KBs that fit it
                options = kb_names + [ALL_KBS] if mode == "kb" and kb_names else kb_names
                chosen = st.multiselect(t("kbs"), options, default=default, key="kbs_pick",
                                        format_func=lambda n: t("all_kbs") if n == ALL_KBS else n,
                                        placeholder=t("kbs_placeholder") if kb_names else t("kbs_none"))
                chosen = [ALL_KBS] if ALL_KBS in chosen else chosen
            if mode == "file":
                file_chat_upload(zk)
            model = model_picker(zk)
            temperature = st.slider(t("temperature"), 0.0, 2.0, DEFAULTS["temperature"], 0.1, key="temperature")
            top_k = st.slider(t("top_k"), 1, 20, DEFAULTS["top_k"], key="top_k")
            strict = st.toggle(t("strict"), value=DEFAULTS["strict"], help=t("strict_help"), key="strict")
            agentic = mode == "kb" and st.toggle(t("agentic"), value=False, help=t("agentic_help"), key="agentic",
                                                 disabled="llm" in missing)
    return {"mode": mode, "kbs": chosen, "model": model, "temperature": temperature, "top_k": top_k,
            "strict": strict, "agentic": agentic}


def unavailable_modes(zk: Any) -> dict[str, str]:
    """Modes that cannot work with the server's settings now, each with the key of the reason."""
    current = session.call(zk.get_settings, default=None)
    if current is None:
        return {}
    missing = {}
    if not current.chat_models:
        missing["llm"] = missing["agent"] = "needs_chat_model"
    if not current.web_search_engine:
        missing["search"] = "needs_web_search"
    return missing


def settings_link() -> None:
    """A link to the settings page (navigates in place, like the top bar; the language stays)."""
    page = st.session_state.get("pages", {}).get("settings")
    if page is not None:
        st.page_link(page, label=t("to_settings"), icon=":material/settings:")


def conversation_list(zk: Any) -> None:
    st.caption(t("conversations"))
    convs = session.call(zk.list_conversations, default=[]) or []
    current = st.query_params.get("c")
    with st.container(height=min(44 * max(len(convs), 1) + 16, 360), border=False):
        for conv in convs:
            label = escape_markdown(conv.title) if conv.title else t("untitled")  # labels are markdown
            if st.button(label, key=f"conv-{conv.id}", width="stretch",
                         type="primary" if conv.id == current else "tertiary"):
                st.query_params["c"] = conv.id
                st.rerun()


def model_picker(zk: Any) -> str | None:
    names = [m.name for m in session.call(zk.list_models, default=[]) or []]
    options = [""] + names
    if st.session_state.get("model") not in options:  # a model removed since it was picked
        st.session_state["model"] = ""
    model = st.selectbox(t("model"), options, format_func=lambda n: n or t("model_default"),
                         key=in_language("model"), on_change=keep, args=("model",))
    st.session_state["model"] = model
    return model or None


def in_language(key: str) -> str:
    """The key of a widget whose option labels are translated: one per language, set from the
    value kept under ``key``. (A widget whose labels change with the language comes back empty or
    showing the other language's labels: the mode radio with nothing chosen, 默认 in English.)"""
    from zhiku.ui.i18n import lang

    widget = f"{key}@{lang()}"
    if key in st.session_state:
        st.session_state[widget] = st.session_state[key]
    return widget


def keep(key: str) -> None:
    """A choice in a widget of :func:`in_language`, kept under ``key`` before the page runs again."""
    from zhiku.ui.i18n import lang

    st.session_state[key] = st.session_state[f"{key}@{lang()}"]


def file_chat_upload(zk: Any) -> None:
    files = st.file_uploader(t("chat_files"), accept_multiple_files=True, key="chat-files")
    if not files:
        st.session_state.pop("temp_kb", None)
        return
    signature = tuple((f.name, f.size) for f in files)
    if st.session_state.get("temp_kb_sig") != signature:
        with st.spinner(t("thinking")):
            temp = session.call(zk.upload_chat_files, [(f.name, f.getvalue()) for f in files])
            if temp is not None:
                temp = session.call(zk.wait_for_chat_files, temp.id, 300)
        if temp is not None and temp.status == "ready":
            st.session_state["temp_kb"], st.session_state["temp_kb_sig"] = temp.id, signature
        elif temp is not None:
            st.error(escape_markdown(t("error", message="; ".join(
                f"{f.name}: {file_reason(f.detail)}" for f in temp.files if f.outcome == "failed"))))
    if st.session_state.get("temp_kb"):
        st.caption(escape_markdown(t("chat_files_ready", names=", ".join(f.name for f in files))))
