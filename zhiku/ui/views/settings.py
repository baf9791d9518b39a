"""The settings page: the server (version, database, jobs), the chat models with reachability,
the embedding models, the defaults the UI uses, and the signed-in user."""

from __future__ import annotations

from typing import Any

import streamlit as st

from zhiku.ui import context, session
from zhiku.ui.i18n import LANGS, lang, t
from zhiku.ui.render import escape_markdown
from zhiku.ui.views import settings_local, settings_models
from zhiku.ui.views import settings_mcp
from zhiku.ui.views.chat import DEFAULTS


def render() -> None:
    zk = session.client()
    st.subheader(t("nav_settings"))
    server, models = st.columns(2)
    with server.container(border=True):
        st.markdown(f"**{t('server')}**")
        health = session.call(zk.health)
        if health is not None:
            st.markdown(f"- {t('version')}: `{health.version}`\n- {t('database')}: {t('db_ok') if health.database == 'ok' else escape_markdown(health.database)}"
                        f"\n- {t('jobs_running')}: {health.jobs_running}\n- {t('api_url')}: `{context.api_url()}`")
    with models.container(border=True):
        st.markdown(f"**{t('models')}**")
        show_models(zk)
    admin = settings_models.is_admin(zk)
    if admin:
        settings_models.render(zk)
    settings_mcp.render(zk)  # the MCP servers the agent may call, for every reader
    embed, who = st.columns(2)
    with embed.container(border=True):
        st.markdown(f"**{t('embedders')}**")
        embedders = session.call(zk.embedders)
        if embedders is not None:
            for name in embedders.names:
                tag = f" — {t('default')}" if name == embedders.default else ""
                st.markdown(f"- `{name}`{tag}")
    with who.container(border=True):
        st.markdown(f"**{t('defaults')}**")
        st.markdown(f"- {t('language')}: {LANGS[lang()]}\n- {t('top_k')}: {DEFAULTS['top_k']}"
                    f"\n- {t('temperature')}: {DEFAULTS['temperature']}"
                    f"\n- {t('strict')}: {'✓' if DEFAULTS['strict'] else '✗'}")
        if session.api_key():
            me = session.call(zk.me)
            if me is not None:
                st.markdown(escape_markdown(t("signed_in_as", name=me.user.name)))
    if admin:  # last: a pull in progress keeps the page's script busy following it
        settings_local.render(zk)


def show_models(zk: Any) -> None:
    models = session.call(zk.list_models, True, default=None)
    if models is None:
        return
    if not models:
        st.info(t("no_models"))
        return
    for m in models:
        mark = "" if m.reachable is None else (f" — ✅ {t('reachable')}" if m.reachable else f" — ❌ {t('unreachable')}")
        default = f" ({t('default')})" if m.default else ""
        st.markdown(escape_markdown(f"{m.name}{default}{mark} · {m.type} · {m.source}"))
        if m.reason:
            st.caption(escape_markdown(m.reason))
