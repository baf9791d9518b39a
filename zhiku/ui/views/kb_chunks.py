"""Inside a knowledge base: the chunks of a file (view, edit, delete), a retrieval test showing
hybrid hits with their scores, and upkeep (rebuild the indexes, check and repair)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from zhiku.ui import session
from zhiku.ui.i18n import t
from zhiku.ui.render import escape_markdown

PAGE_SIZE = 10


def chunk_editor(zk: Any, kb: str) -> None:
    files = [f for f in session.call(zk.list_files, kb, default=[]) or [] if f.chunks]
    if not files:
        st.info(t("no_chunks"))
        return
    f = st.selectbox(t("chunk_file"), files, format_func=lambda f: f.name, key=f"chunk-file-{kb}")
    chunks = session.call(zk.list_chunks, kb, f.id, default=[]) or []
    if not chunks:
        st.info(t("no_chunks"))
        return
    pages = (len(chunks) + PAGE_SIZE - 1) // PAGE_SIZE
    page = st.number_input(t("chunks_page"), 1, pages, 1, key=f"chunk-page-{kb}-{f.id}") if pages > 1 else 1
    for chunk in chunks[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]:
        where = " · ".join(x for x in (page_label(chunk.page, chunk.page_end),
                                       " / ".join(chunk.section)) if x)
        title = t("chunk_n", seq=chunk.seq + 1) + (f" · {where}" if where else "")
        with st.expander(escape_markdown(title)):
            text = st.text_area(t("col_text"), chunk.text, height=180, key=f"chunk-{kb}-{chunk.id}",
                                label_visibility="collapsed")
            cols = st.columns([1, 1, 4])
            if cols[0].button(t("save"), key=f"chunk-save-{chunk.id}", disabled=text == chunk.text or not text.strip()):
                if session.call(zk.edit_chunk, kb, chunk.id, text) is not None:
                    st.toast(t("chunk_saved"))
                    st.rerun()
            if cols[1].button(t("delete"), key=f"chunk-del-{chunk.id}"):
                if session.call(zk.delete_chunk, kb, chunk.id, default=False) is not False:
                    st.toast(t("chunk_deleted"))
                    st.rerun()


def retrieval_test(zk: Any, kb: str) -> None:
    with st.form(f"test-{kb}", border=False):
        query = st.text_input(t("test_query"), key=f"test-q-{kb}")
        cols = st.columns(2)
        mode = cols[0].segmented_control(t("test_mode"), ["hybrid", "dense", "lexical"], default="hybrid",
                                         format_func=lambda m: t("mode_" + m), key=f"test-mode-{kb}")
        top_k = cols[1].slider(t("top_k"), 1, 20, 5, key=f"test-k-{kb}")
        run = st.form_submit_button(t("test_run"), type="primary", icon=":material/search:")
    if not (run and query.strip()):
        return
    hits = session.call(zk.search, kb, query.strip(), top_k, mode or "hybrid", default=None)
    if hits is None:
        return
    if not hits:
        st.info(t("no_hits"))
        return
    dense_rank, lexical_rank = channel_ranks(hits, "dense_score"), channel_ranks(hits, "lexical_score")
    st.caption(t("fused_help"))
    st.dataframe([{
        t("col_score"): h.score, t("col_dense"): h.dense_score, t("col_dense_rank"): dense_rank[i],
        t("col_lexical"): h.lexical_score, t("col_lexical_rank"): lexical_rank[i],
        t("col_name"): h.file, t("col_pages"): page_label(h.page, h.page_end), t("col_text"): h.text,
    } for i, h in enumerate(hits)], hide_index=True, width="stretch", column_config={
        t("col_score"): st.column_config.ProgressColumn(t("col_score"), min_value=0.0, max_value=1.0, format="%.3f"),
        t("col_dense"): st.column_config.NumberColumn(format="%.3f"),
        t("col_lexical"): st.column_config.NumberColumn(format="%.3f"),
        t("col_text"): st.column_config.TextColumn(width="large"),
    })


def channel_ranks(hits: list[Any], attr: str) -> list[int | None]:
    """Each hit's place (1 = best) among ``hits`` by one channel's score; None where that channel
    did not find it. Shown beside the fused score, so a higher keyword score ranked lower is explained."""
    scored = sorted((i for i, h in enumerate(hits) if getattr(h, attr) is not None),
                    key=lambda i: -getattr(hits[i], attr))
    ranks: list[int | None] = [None] * len(hits)
    for place, i in enumerate(scored, 1):
        ranks[i] = place
    return ranks


def page_label(page: int | None, page_end: int | None = None) -> str:
    """The page(s) a passage is on, the same words in the chunk view, the retrieval test, citations and
    the export (a passage running onto the next page names both)."""
    if not page:
        return ""
    return t("pages", start=page, end=page_end) if page_end and page_end != page else t("page", page=page)


def maintenance(zk: Any, kb: str) -> None:
    cols = st.columns(3)
    if cols[0].button(t("rebuild"), icon=":material/build:", key=f"rb-{kb}"):
        result = session.call(zk.rebuild_kb, kb)
        if result is not None:
            st.success(t("rebuilt", chunks=result.chunks))
    for col, repair, label in ((cols[1], False, "check"), (cols[2], True, "repair")):
        if col.button(t(label), icon=":material/fact_check:", key=f"chk-{kb}-{repair}"):
            result = session.call(zk.check_kb, kb, repair)
            if result is None:
                continue
            if result.consistent and not result.problems:
                st.success(t("consistent"))
            else:
                st.warning(t("problems"))
                st.markdown("\n".join(f"- {escape_markdown(p)}" for p in result.problems))
