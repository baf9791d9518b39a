"""Per-browser-session state of the UI: the API client (as the signed-in user) and readable errors."""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from zhiku.client import ZhikuClient
from zhiku.errors import Unavailable, ZhikuError
from zhiku.ui import context
from zhiku.ui.i18n import t
from zhiku.ui.messages import error_text
from zhiku.ui.render import escape_markdown

log = logging.getLogger(__name__)
TOKEN = "zhiku_token"  # the cookie (zhiku.ui.web_login) holding the signed-in user's token


def api_key() -> str | None:
    if st.session_state.get("token_revoked"):
        return None
    return st.context.cookies.get(TOKEN) or None


def client() -> ZhikuClient:
    """This session's client of the API (one per signed-in token)."""
    key = api_key()
    cached = st.session_state.get("_client")
    if cached is None or cached[0] != key:
        if cached is not None:
            cached[1].close()
        cached = (key, context.client(key))
        st.session_state["_client"] = cached
    return cached[1]


def is_auth_error(exc: BaseException) -> bool:
    return getattr(exc, "status_code", None) == 401


def show_error(exc: ZhikuError) -> None:
    """One readable line for what went wrong. The message may quote user input (a name, a question):
    it is shown as text, never as markdown (an image in it would make the browser fetch it)."""
    message = error_text(exc)  # the server's words in English, a Chinese sentence for its code in Chinese
    if isinstance(exc, Unavailable) and "cannot reach the zhiku server" in str(exc):
        st.error(escape_markdown(t("unreachable_api", message=message)), icon="🔌")
    elif isinstance(exc, Unavailable):
        st.error(escape_markdown(t("model_unreachable", message=message)), icon="⚠️")
    else:
        st.error(escape_markdown(t("error", message=message)), icon="⚠️")


def call(fn: Any, *args: Any, default: Any = None, **kw: Any) -> Any:
    """``fn(*args, **kw)``, or ``default`` after showing the error."""
    try:
        return fn(*args, **kw)
    except ZhikuError as exc:
        if is_auth_error(exc):
            st.session_state["token_revoked"] = bool(api_key())
            st.session_state["auth_required"] = True
            st.rerun()
        show_error(exc)
        return default
