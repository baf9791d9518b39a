"""The sign-in page, shown instead of the others while the server needs a user and none is signed in.

The form is plain HTML posted to ``/ui/login`` (``zhiku.ui.web_login``), which sets the cookie a
refresh keeps; this page only draws it and shows why the last try failed.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode, urlsplit

import streamlit as st

from zhiku.ui.i18n import t
from zhiku.ui.messages import code_text
from zhiku.ui.render import escape_markdown

FORM = """
<style>
  .zk-login {{ display: flex; flex-direction: column; gap: .75rem; max-width: 420px; }}
  .zk-login label {{ font-size: .875rem; display: flex; flex-direction: column; gap: .3rem; }}
  .zk-login input {{ font: inherit; padding: .55rem .75rem; border: 1px solid #d5dae5; border-radius: .5rem;
                     background: #f0f2f6; }}
  .zk-login button {{ font: inherit; padding: .55rem; border: 0; border-radius: .5rem; background: #1f6feb;
                      color: #fff; cursor: pointer; }}
</style>
<form class="zk-login" method="post" action="/ui/login">
  <input type="hidden" name="next" value="{next}">
  <label>{username}<input name="username" autocomplete="username" required></label>
  <label>{password}<input name="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">{submit}</button>
</form>
"""

LOGOUT = """
<form method="post" action="/ui/logout" style="margin:0">
  <input type="hidden" name="next" value="{next}">
  <button type="submit" style="font: inherit; font-size: .875rem; background: none; border: 0; padding: 0;
          color: #31333f; cursor: pointer; text-decoration: underline;">{label}</button>
</form>
"""


def here() -> str:
    """This page's path and query (without the sign-in messages), to come back to after signing in."""
    path = urlsplit(str(getattr(st.context, "url", "") or "/")).path or "/"
    query = {k: v for k, v in st.query_params.to_dict().items() if k not in ("login_error", "login_code", "signed_out")}
    return path + (f"?{urlencode(query)}" if query else "")


def render() -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.subheader(t("login_title"))
        error = st.query_params.get("login_error")
        if error:
            reason = code_text(st.query_params.get("login_code"), error)
            st.error(escape_markdown(t("login_failed", reason=reason)))
        elif st.query_params.get("signed_out"):
            st.success(t("logged_out"))
        else:
            st.caption(t("login_required"))
        # every value below is escaped; st.html never runs scripts
        st.html(FORM.format(next=escape(here(), quote=True), username=escape(t("username")),
                            password=escape(t("password")), submit=escape(t("login_btn"))))


def logout_button() -> None:
    st.html(LOGOUT.format(label=escape(t("logout")), next=escape(here(), quote=True)))
