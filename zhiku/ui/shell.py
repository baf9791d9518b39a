"""The frame around every page: page setup, the language switch (kept in the URL), sign-in when the
server needs it, and the navigation between chat, knowledge bases and settings."""

from __future__ import annotations

import streamlit as st

from zhiku.errors import ZhikuError
from zhiku.ui import locale, session
from zhiku.ui.i18n import LANGS, lang, t
from zhiku.ui.views import chat, kbs, login, settings

PAGES = [
    (chat.render, "nav_chat", "chat", ":material/chat:"),
    (kbs.render, "nav_kbs", "kbs", ":material/library_books:"),
    (settings.render, "nav_settings", "settings", ":material/settings:"),
]

CSS = """
<style>
  [data-testid="stSidebarHeader"] { padding-bottom: 0; }
  .block-container { padding-top: 4.2rem; max-width: 1200px; }
  [data-testid="stChatMessage"] { padding: .6rem .9rem; }
  %s
</style>
""" % locale.CSS


def run() -> None:
    st.set_page_config(page_title="知库 zhiku", page_icon="📚", layout="wide",
                       initial_sidebar_state="expanded")
    st.html(CSS)  # a constant stylesheet of ours, never user content
    locale.install(lang())  # Streamlit's own words (file uploader, tables, "Page not found") in Chinese too
    with st.sidebar:
        st.markdown(f"### :material/menu_book: {t('app_title')}")
        st.segmented_control(t("language"), list(LANGS), format_func=LANGS.__getitem__, key="lang",
                             default="zh",
                             bind="query-params", label_visibility="collapsed")
    signed_out = needs_sign_in()
    # every page asks to sign in first, at its own address (to come back to it)
    pages = [st.Page(login.render if signed_out else render, title=t("nav_login" if signed_out else key),
                     url_path=path, default=path == "chat", icon=":material/login:" if signed_out else icon)
             for render, key, path, icon in PAGES]
    st.session_state["pages"] = {path: p for p, (_, _, path, _) in zip(pages, PAGES)}  # for links (page_link)
    if signed_out:
        st.navigation(pages, position="hidden").run()
        return
    page = st.navigation(pages, position="top")
    if session.api_key():
        with st.sidebar:
            login.logout_button()
    page.run()


def needs_sign_in() -> bool:
    """True while the server refuses this session (auth on, nobody signed in)."""
    if st.session_state.get("auth_required") and not session.api_key():
        return True
    if session.api_key() or "auth_probe" in st.session_state:
        return False
    try:
        session.client().list_kbs()
        st.session_state["auth_probe"] = "open"
        return False
    except ZhikuError as exc:
        if session.is_auth_error(exc):
            st.session_state["auth_required"] = True
            return True
        return False  # the pages show the error
