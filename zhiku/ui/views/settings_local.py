"""Local models on the settings page (admins): model servers running on the server's machine, found
and added with one click; a GGUF pulled from the catalog (or a URL) with a progress bar and a
cancel, offered as the default chat model when done. Through the API only (``/api/settings/detect``,
``/api/settings/pulls``)."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from zhiku.ui import session
from zhiku.ui.i18n import lang, t
from zhiku.ui.render import escape_markdown, human_size

RUNNING = ("running", "cancelling")


def render(zk: Any) -> None:
    with st.container(border=True):
        detect_section(zk)
    with st.container(border=True):
        pull_section(zk)


def detect_section(zk: Any) -> None:
    st.markdown(f"**{t('local_servers')}**")
    st.caption(t("local_servers_help"))
    if st.button(t("detect"), icon=":material/radar:", key="detect"):
        st.session_state["detected"] = session.call(zk.detect_servers, default=None)
    found = st.session_state.get("detected")
    if found is None:
        return
    for problem in found.problems:
        st.caption(escape_markdown(problem))
    if not found.found:
        looked = ", ".join(f"{kind} :{port}" for kind, port in found.probed.items())
        st.info(escape_markdown(t("detect_none", looked=looked)), icon=":material/search_off:")
        return
    for server in found.found:
        with st.container(border=True):
            st.markdown(escape_markdown(t("detect_found", label=server.label, port=server.port))
                        + f" · `{server.base_url}`")
            if server.added:
                st.caption(escape_markdown(t("detect_added", names=", ".join(server.added))))
            if not server.models:
                st.caption(t("detect_no_models"))
                continue
            pick, add = st.columns([3, 1], vertical_alignment="bottom")
            model = pick.selectbox(t("detect_model"), server.models, key=f"det-model-{server.kind}")
            if add.button(t("detect_add"), icon=":material/add:", key=f"det-add-{server.kind}", width="stretch"):
                saved = session.call(zk.add_detected, server.kind, model, default=None)
                if saved is not None:
                    name = next((m.name for m in saved.model_servers
                                 if m.base_url == server.base_url and m.model == model), model)
                    st.session_state["detected"] = session.call(zk.detect_servers, default=found)
                    st.session_state["ms-gen"] = st.session_state.get("ms-gen", 0) + 1  # the server forms redrawn
                    st.toast(escape_markdown(t("detect_saved", name=name)), icon=":material/check:")
                    st.rerun()


def pull_section(zk: Any) -> None:
    st.markdown(f"**{t('pull_title')}**")
    st.caption(t("pull_help"))
    catalog = session.call(zk.model_catalog, default=None)
    if catalog is None:
        return
    about = {m.name: (m.about_zh or m.about) if lang() == "zh" else m.about for m in catalog.models}
    pull_id = st.session_state.get("pull-id")
    running = False
    if pull_id:
        status = session.call(zk.pull_status, pull_id, default=None)
        running = status is not None and status.state in RUNNING
    with st.form("pull-form", border=False):
        what = st.selectbox(t("pull_model"), list(about), format_func=lambda n: f"{n} — {about[n]}",
                            key="pull-what")
        url = st.text_input(t("pull_url"), key="pull-url", placeholder="https://…/model-q4_k_m.gguf")
        mirrors = list(catalog.mirrors)
        mirror = st.selectbox(t("pull_mirror"), mirrors, key="pull-mirror", format_func=lambda m: t(f"mirror_{m}"),
                              index=mirrors.index(catalog.mirror) if catalog.mirror in mirrors else 0)
        if st.form_submit_button(t("pull_start"), type="primary", icon=":material/download:", disabled=running):
            started = session.call(zk.start_pull, url.strip() or what, None if url.strip() else mirror,
                                   default=None)
            if started is not None:
                st.session_state["pull-id"] = started.id
                st.rerun()
    if pull_id:
        follow_pull(zk, pull_id)


def follow_pull(zk: Any, pull_id: str) -> None:
    """The pull's progress, polled until it ends (the cancel button's click reruns the page, which
    ends this loop and starts it again on the cancelling pull); then what came of it."""
    cancel = st.empty()
    box = st.empty()
    status = session.call(zk.pull_status, pull_id, default=None)
    if status is None:
        st.session_state.pop("pull-id", None)
        return
    was_running = status.state in RUNNING
    if status.state == "running":
        cancel.button(t("pull_cancel"), icon=":material/cancel:", key=f"pull-cancel-{pull_id}",
                      on_click=lambda: session.call(session.client().cancel_pull, pull_id))
    while status.state in RUNNING:
        show_progress(status, box)
        time.sleep(0.5)
        status = session.call(zk.pull_status, pull_id, default=None)
        if status is None:
            return
    cancel.empty()
    if was_running:  # it just ended: the whole page again, with the model lists as they are now
        st.rerun()
    show_outcome(zk, status, box)


def show_progress(status: Any, box: Any) -> None:
    with box.container():
        if status.state == "cancelling":
            st.progress(status.fraction or 0.0, text=t("pull_cancelling"))
        elif status.total_bytes:
            st.progress(status.fraction or 0.0, text=t("pull_progress", file=status.file,
                                                       done=human_size(status.done_bytes),
                                                       total=human_size(status.total_bytes)))
        else:
            st.progress(0.0, text=t("pull_progress_unknown", file=status.file, done=human_size(status.done_bytes)))


def show_outcome(zk: Any, status: Any, box: Any) -> None:
    with box.container():
        if status.state == "cancelled":
            st.info(escape_markdown(t("pull_cancelled", file=status.file)), icon=":material/cancel:")
        elif status.state == "failed":
            st.error(escape_markdown(t("pull_failed", file=status.file, error=status.error or "")))
        else:
            st.success(escape_markdown(t("pull_done", file=status.file, name=status.name)),
                       icon=":material/check:")
            st.caption(t("pull_verified") if status.verified else t("pull_unverified", sha=status.sha256 or ""))
            current = session.call(zk.get_settings, default=None)
            if current is not None and current.default_model == status.name:
                st.caption(escape_markdown(t("pull_default_set", name=status.name)))
            elif st.button(t("pull_make_default"), type="primary", icon=":material/star:",
                           key=f"pull-default-{status.id}"):
                if session.call(zk.set_defaults, default_model=status.name, default=None) is not None:
                    st.toast(escape_markdown(t("pull_default_set", name=status.name)), icon=":material/check:")
                    st.rerun()
