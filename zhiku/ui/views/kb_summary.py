"""Summaries on the knowledge-base page: the KB's above its file table, a file's when one file is
chosen in the table. Fetched when asked for (a chat model may take a while to write one), kept for
the session, and made again on request; each says how it was made (extractive, or which model)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from zhiku.ui import session
from zhiku.ui.i18n import t
from zhiku.ui.render import escape_markdown


def kb_panel(zk: Any, kb: str) -> None:
    with st.expander(t("summary_kb"), icon=":material/summarize:", key=f"summary-panel-{kb}"):
        show(zk, kb, None)


def file_panel(zk: Any, kb: str, name: str, file_id: str) -> None:
    with st.container(border=True):
        st.caption(escape_markdown(t("summary_file", name=name)))
        show(zk, kb, file_id)


CELL_CHARS = 80


def cells(zk: Any, kb: str) -> dict[str, str]:
    """The file table's summary column: each file's stored summary, cut short and marked extractive
    or outdated (none is made for the table)."""
    out = {}
    for s in session.call(zk.list_summaries, kb, default=[]) or []:
        text = s.text if len(s.text) <= CELL_CHARS else s.text[:CELL_CHARS - 1] + "…"
        if s.kind == "extractive":
            text = t("summary_cell_extractive", text=text)
        out[s.file_id or ""] = t("summary_cell_stale", text=text) if s.stale else text
    return out


def show(zk: Any, kb: str, file: str | None) -> None:
    key = f"summary:{kb}:{file or ''}"
    summary = st.session_state.get(key)
    cols = st.columns(2)
    if summary is None and cols[0].button(t("summary_show"), key=f"{key}:show", icon=":material/summarize:",
                                          help=t("summary_help")):
        summary = session.call(zk.summary, kb, file)
    if summary is not None and cols[1].button(t("summary_again"), key=f"{key}:again", icon=":material/refresh:"):
        summary = session.call(zk.make_summary, kb, file) or summary
    if summary is None:
        return
    st.session_state[key] = summary
    label = t("summary_extractive") if summary.kind == "extractive" else t("summary_by", model=summary.model)
    when = summary.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
    st.caption(escape_markdown(t("summary_when", label=label, when=when)))
    st.markdown(escape_markdown(summary.text))
