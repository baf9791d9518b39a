"""The knowledge-base page: pick or create a KB; its files, uploads, chunks, retrieval test and upkeep."""

from __future__ import annotations

from typing import Any

import streamlit as st

from zhiku.ui import session
from zhiku.ui.i18n import t
from zhiku.ui.render import escape_markdown
from zhiku.ui.views import kb_chunks, kb_files, kb_migrate, kb_sources, kb_summary


def render() -> None:
    zk = session.client()
    kbs = session.call(zk.list_kbs, default=None)
    if kbs is None:
        return
    names = [kb.name for kb in kbs]
    with st.sidebar:
        create_form(zk, first=not kbs)
    st.subheader(t("nav_kbs"))
    if not kbs:
        st.info(t("no_kbs_here"), icon=":material/library_add:")
        return
    name = pick(names)
    kb = kbs[names.index(name)]
    stats_slot = st.empty()
    files_tab, upload_tab, chunks_tab, test_tab, upkeep_tab = st.tabs(
        [t("tab_files"), t("tab_upload"), t("tab_chunks"), t("tab_test"), t("tab_maintenance")])
    with upload_tab:  # first: an upload finishing here shows in the file table and counts below
        if kb_files.upload(zk, kb.name):
            kb = session.call(zk.get_kb, kb.name) or kb
    files = session.call(zk.list_files, kb.name, default=None)
    count = file_count(files) if files is not None else t("kb_files_n", n=kb.files)
    stats = t("kb_stats_all", files=count, chunks=kb.chunks, embedder=kb.embedder)
    stats_slot.caption(escape_markdown(kb.description + " · " + stats if kb.description else stats))
    with files_tab:
        kb_summary.kb_panel(zk, kb.name)
        kb_sources.panel(zk, kb.name)  # the folders it follows, kept in sync
        kb_files.file_table(zk, kb.name)
    with chunks_tab:
        kb_chunks.chunk_editor(zk, kb.name)
    with test_tab:
        kb_chunks.retrieval_test(zk, kb.name)
    with upkeep_tab:
        kb_chunks.maintenance(zk, kb.name)
        kb_migrate.panel(zk, kb)  # another backend or embedder, while it answers
        delete_kb(zk, kb.name)


def file_count(files: list[Any]) -> str:
    """The KB's files as its table lists them: all, with the failed and pending ones named
    ("12 files (1 failed)"; the KB's own count is of the indexed ones only)."""
    total = t("kb_files_n_one") if len(files) == 1 else t("kb_files_n", n=len(files))
    failed = sum(1 for f in files if f.status == "failed")
    pending = sum(1 for f in files if f.status == "pending")
    notes = [t(key, n=n) for key, n in (("kb_files_failed", failed), ("kb_files_pending", pending)) if n]
    return total + (f" ({', '.join(notes)})" if notes else "")


def pick(names: list[str]) -> str:
    """The KB selector. The address (``?kb=``) says which KB the page shows and the selector is set
    from it before it is drawn, so a KB just created (or one opened by its link) is the one shown,
    and the one an upload goes to; choosing another KB changes the address first."""
    wanted = st.query_params.get("kb")
    if wanted not in names:
        wanted = names[0]
        st.query_params["kb"] = wanted
    if st.session_state.get("kb_pick") != wanted:
        st.session_state["kb_pick"] = wanted
    return str(st.selectbox(t("kb_select"), names, key="kb_pick", on_change=_picked))


def _picked() -> None:
    st.query_params["kb"] = st.session_state["kb_pick"]


def create_form(zk: Any, first: bool = False) -> None:
    """The new-KB form in the sidebar, open when there is no KB yet (the first thing to do)."""
    with st.expander(t("kb_create"), expanded=first, icon=":material/library_add:"):
        embedders = session.call(zk.embedders, default=None)
        with st.form("create-kb", clear_on_submit=True, border=False):
            name = st.text_input(t("kb_name"), max_chars=100, key="new-kb-name")
            description = st.text_area(t("kb_description"), max_chars=10_000, key="new-kb-desc", height=80)
            options = embedders.names if embedders else []
            default = options.index(embedders.default) if embedders and embedders.default in options else 0
            embedder = (st.selectbox(t("kb_embedder"), options, index=default, key="new-kb-embedder")
                        if options else None)
            if st.form_submit_button(t("kb_create_btn"), type="primary"):
                kb = session.call(zk.create_kb, name.strip(), description, embedder)
                if kb is not None:
                    st.query_params["kb"] = kb.name
                    st.toast(escape_markdown(t("kb_created", name=kb.name)), icon=":material/check:")
                    st.rerun()


def delete_kb(zk: Any, name: str) -> None:
    st.divider()
    # keyed by the KB: the next KB shown after a delete opens with its own panel closed
    with st.expander(t("kb_delete"), icon=":material/delete_forever:", key=f"del-kb-panel-{name}"):
        typed = st.text_input(escape_markdown(t("kb_delete_confirm", name=name)), key=f"del-kb-{name}")
        if st.button(t("kb_delete"), type="primary", disabled=typed != name, key=f"del-kb-btn-{name}"):
            if session.call(zk.delete_kb, name, default=False) is not False:
                st.query_params.pop("kb", None)
                st.toast(escape_markdown(t("kb_deleted", name=name)))
                st.rerun()
