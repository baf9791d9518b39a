"""The editable half of the settings page (admins): OpenAI-compatible model servers (add, change,
remove, test the connection), the default chat model, the web-search engine and the embedder of new
knowledge bases. Everything goes
through the API (``/api/settings``), which saves the settings file and applies it at once; a stored
API key is never shown, only whether there is one."""

from __future__ import annotations

from typing import Any

import streamlit as st

from zhiku.ui import session
from zhiku.ui.i18n import t
from zhiku.ui.render import escape_markdown

ENGINES = ["none", "duckduckgo", "searxng", "bing", "tavily"]


def is_admin(zk: Any) -> bool:
    me = session.call(zk.me, default=None)
    return me is not None and (not me.auth_enabled or (me.user.role == "admin" and "admin" in me.scopes))


def render(zk: Any) -> None:
    current = session.call(zk.get_settings, default=None)
    if current is None:
        return
    with st.container(border=True):
        st.markdown(f"**{t('model_servers')}**")
        st.caption(t("model_servers_help"))
        for server in current.model_servers:
            server_form(zk, server.name, server)
        with st.expander(t("model_server_add"), icon=":material/add:"):
            server_form(zk, None, None)
    with st.container(border=True):
        st.markdown(f"**{t('answer_defaults')}**")
        defaults_form(zk, current)


def server_form(zk: Any, name: str | None, server: Any) -> None:
    """One model server's form; ``name`` None: a new one."""
    # the form's widgets are keyed by a generation that each save or removal advances: the fields
    # (the API key typed in above all) are empty again afterwards, not kept in the page
    key = f"{name or '+new'}-{st.session_state.get('ms-gen', 0)}"
    title = (f"{name} · {server.model} · {server.base_url}" + (" · 🔑" if server.has_key else "")) if server else None
    holder = st.expander(escape_markdown(title), icon=":material/dns:") if title else st.container()
    with holder, st.form(f"ms-form-{key}", border=False):  # typing reruns nothing; the buttons send the form
        new_name = st.text_input(t("model_name"), value=name or "", disabled=name is not None,
                                 key=f"ms-name-{key}", placeholder="qwen-local")
        url = st.text_input(t("model_url"), value=server.base_url if server else "", key=f"ms-url-{key}",
                            placeholder="http://127.0.0.1:11434/v1")
        api_key = st.text_input(t("model_key"), value="", type="password", key=f"ms-key-{key}",
                                placeholder=t("model_key_kept") if server and server.has_key else "")
        listed = st.session_state.get(f"ms-listed-{key}")
        if listed:
            model = st.selectbox(t("model_model"), listed, key=f"ms-model-pick-{key}",
                                 index=listed.index(server.model) if server and server.model in listed else 0)
        else:
            model = st.text_input(t("model_model"), value=server.model if server else "", key=f"ms-model-{key}",
                                  placeholder="qwen2.5:7b-instruct")
        cols = st.columns(3)
        if cols[0].form_submit_button(t("test_connection"), icon=":material/network_check:", width="stretch"):
            models = session.call(zk.test_model_server, url.strip(), api_key or None, name, default=None)
            if models is not None:
                st.session_state[f"ms-listed-{key}"] = models or None
                st.session_state[f"ms-tested-{key}"] = models
                st.rerun()
        tested = st.session_state.get(f"ms-tested-{key}")
        if tested is not None:
            st.success(escape_markdown(t("connection_ok", n=len(tested), models=", ".join(tested[:20]))),
                       icon=":material/check:")
        if cols[1].form_submit_button(t("save"), type="primary", icon=":material/save:", width="stretch"):
            saved = session.call(zk.put_model_server, new_name.strip(), url.strip(), (model or "").strip(),
                                 api_key=api_key or None, default=None)
            if saved is not None:
                st.session_state["ms-gen"] = st.session_state.get("ms-gen", 0) + 1
                st.toast(escape_markdown(t("model_saved", name=new_name.strip())), icon=":material/check:")
                st.rerun()
        if name is not None and cols[2].form_submit_button(t("delete"), icon=":material/delete:", width="stretch"):
            if session.call(zk.delete_model_server, name, default=None) is not None:
                st.session_state["ms-gen"] = st.session_state.get("ms-gen", 0) + 1
                st.toast(escape_markdown(t("model_removed", name=name)))
                st.rerun()


def defaults_form(zk: Any, current: Any) -> None:
    options = [""] + list(current.chat_models)
    default = current.default_model if current.default_model in options else ""
    with st.form("answer-defaults", border=False):
        model = st.selectbox(t("default_model"), options, index=options.index(default),
                             format_func=lambda n: n or t("extractive_answers"), key="def-model")
        engine_now = current.web_search_engine or "none"
        known = list(current.web_search_engines) or ENGINES  # the server's registry (plugins included)
        engines = known if engine_now in known else [*known, engine_now]
        engine = st.selectbox(t("web_engine"), engines, index=engines.index(engine_now),
                              format_func=lambda e: t("web_off") if e == "none" else e, key="def-engine")
        url = st.text_input(t("web_engine_url"), value=current.web_search_url or "", key="def-engine-url",
                            placeholder="http://127.0.0.1:8888")
        embedders = list(current.embedders) or [current.default_embedder]
        embedder = st.selectbox(t("default_embedder"), embedders, key="def-embedder",
                                index=embedders.index(current.default_embedder)
                                if current.default_embedder in embedders else 0)
        st.caption(t("embedder_note"))
        if st.form_submit_button(t("save"), type="primary", icon=":material/save:"):
            saved = session.call(zk.set_defaults, default_model=model or None, web_search_engine=engine,
                                 web_search_url=url.strip(), default_embedder=embedder, default=None)
            if saved is not None:
                st.toast(t("defaults_saved"), icon=":material/check:")
                st.rerun()
