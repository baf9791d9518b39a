"""Files of a knowledge base: the table (status, size, chunks, pages, added), delete, re-ingest and
download; uploads of many files at once with each file's progress and outcome."""

from __future__ import annotations

from typing import Any

import streamlit as st

from zhiku.errors import ZhikuError
from zhiku.ui import session
from zhiku.ui.i18n import t
from zhiku.ui.messages import file_reason
from zhiku.ui.render import escape_markdown, human_size

# plain symbols the UI fonts have (a colour emoji font is often missing on servers and in browsers there)
STATUS_ICON = {"pending": "…", "indexing": "↻", "indexed": "✓", "failed": "✗"}
OUTCOME_ICON = {"queued": "…", "running": "↻", "added": "✓", "replaced": "✓", "skipped": "✓",
                "failed": "✗", "cancelled": "✗"}


def _status(status: str) -> str:
    return f"{STATUS_ICON.get(status, '')} {t('status_' + status)}"


# the file table's columns in pixels, within TABLE_PX: the page's width at a 1280 px window (820 px)
# less the row pickers, so nothing is cut off at the right edge (on a wider page the grid stretches
# every column). Pages and Reason are shown only when a file has them; Summary takes what is left.
# A longer text is cut short in its cell: picking the row shows the whole summary (its panel) and a
# failed file's whole reason.
TABLE_PX = 780
COLUMN_PX = {"col_name": 180, "col_status": 80, "col_size": 62, "col_chunks": 54, "col_pages": 48,
             "col_added": 118, "col_reason": 120}
SUMMARY_MIN_PX = 120


def table_layout(files: list[Any]) -> dict[str, Any]:
    """``column_config`` and ``column_order`` of the file table (its data keeps every column)."""
    shown = [c for c in COLUMN_PX if not (c == "col_pages" and not any(f.pages for f in files)
                                          or c == "col_reason" and not any(f.error for f in files))]
    config: dict[str, Any] = {t(c): st.column_config.Column(width=COLUMN_PX[c]) for c in shown}
    summary_px = max(SUMMARY_MIN_PX, TABLE_PX - sum(COLUMN_PX[c] for c in shown))
    config[t("col_summary")] = st.column_config.TextColumn(width=summary_px, help=t("summary_cell_help"))
    return {"column_config": config, "column_order": [t(c) for c in [*shown, "col_summary"]]}


def file_table(zk: Any, kb: str) -> None:
    files = session.call(zk.list_files, kb, default=None)
    if files is None:
        return
    if not files:
        st.info(t("no_files"), icon=":material/upload_file:")
        return
    running = {j.current_file for j in session.call(zk.list_jobs, kb, "running", default=[]) or []}
    from zhiku.ui.views.kb_summary import cells

    summaries = cells(zk, kb)  # the stored ones (zhiku.ui.views.kb_summary)
    rows = [{
        t("col_name"): f.name,
        t("col_status"): _status("indexing" if f.status == "pending" and f.name in running else f.status),
        t("col_size"): human_size(f.size),
        t("col_chunks"): f.chunks,
        t("col_pages"): str(f.pages) if f.pages else "",
        t("col_added"): f.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
        t("col_reason"): file_reason(f.error),
        t("col_summary"): summaries.get(f.id, ""),
    } for f in files]
    picked = st.dataframe(rows, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row",
                          key=f"files-{kb}", **table_layout(files))
    chosen = [files[i] for i in picked.selection.rows] if picked is not None else []
    if any(f.status == "pending" for f in files):
        if st.button("↻", key=f"refresh-{kb}", help=t("refresh")):
            st.rerun()
    if not chosen:
        return
    st.caption(t("selected_files", n=len(chosen)))
    for f in chosen:  # the whole reason, which its cell may cut short
        if f.status == "failed" and f.error:
            st.caption(escape_markdown(f"{STATUS_ICON['failed']} {f.name}: {file_reason(f.error)}"))
    cols = st.columns(3)
    with cols[0].popover(t("delete_files"), icon=":material/delete:", width="stretch"):
        st.write(escape_markdown(", ".join(f.name for f in chosen)))
        if st.button(t("delete"), type="primary", key=f"del-files-{kb}"):
            done = sum(1 for f in chosen if session.call(zk.delete_file, kb, f.id, default=False) is not False)
            st.toast(t("files_deleted", n=done))
            st.rerun()
    if cols[1].button(t("reingest_files"), icon=":material/refresh:", width="stretch",
                      key=f"reingest-{kb}"):
        jobs = [session.call(zk.reingest, kb, f.id) for f in chosen]
        st.toast(t("reingest_started", n=sum(1 for j in jobs if j is not None)))
        for job in jobs:
            if job is not None:
                follow_job(zk, job)
        st.rerun()
    if len(chosen) == 1:
        f = chosen[0]
        cols[2].download_button(t("download_file"), data=lambda: zk.download(kb, f.id), file_name=f.name,
                                icon=":material/download:", width="stretch", on_click="ignore",
                                key=f"dl-file-{f.id}")
        if f.status == "indexed":  # its summary (zhiku.ui.views.kb_summary)
            from zhiku.ui.views.kb_summary import file_panel

            file_panel(zk, kb, f.name, f.id)


def upload(zk: Any, kb: str) -> bool:
    """The upload form and the last upload's progress; True when an upload was followed to its end."""
    with st.form(f"upload-{kb}", clear_on_submit=True):
        files = st.file_uploader(t("upload_files"), accept_multiple_files=True, key=f"up-{kb}")
        submitted = st.form_submit_button(t("upload_btn"), type="primary", icon=":material/upload:")
    if submitted and not files:
        st.warning(t("upload_choose_first"), icon=":material/upload_file:")
    if submitted and files:
        try:
            job = zk.upload(kb, [(f.name, f.getvalue()) for f in files])
        except ZhikuError as exc:
            session.show_error(exc)
            return False
        st.session_state[f"job-{kb}"] = job.id
    job_id = st.session_state.get(f"job-{kb}")
    if job_id is None:
        return False
    job = session.call(zk.get_job, job_id)  # the last upload, also after leaving the page and coming back
    if job is None:
        st.session_state.pop(f"job-{kb}", None)
        return False
    if job.status in ("queued", "running"):
        follow_job(zk, job)
        return True
    show_job(job, st.container())
    return False


def follow_job(zk: Any, job: Any) -> Any:
    """Show the job's progress live (server-sent events) until it ends; returns its final state.
    Cancel asks the server to stop it (the click reruns the page, which ends this loop)."""
    job_id = job.id
    cancel = st.empty()  # offered while the job runs, gone when it ends
    cancel.button(t("cancel_job"), icon=":material/cancel:", key=f"cancel-{job_id}",
                  on_click=lambda: session.call(session.client().cancel_job, job_id))
    box = st.empty()
    show_job(job, box.container())
    try:
        for update in zk.job_events(job_id):
            job = update
            show_job(job, box.container())
    except ZhikuError as exc:
        session.show_error(exc)
    if job.status not in ("queued", "running"):
        cancel.empty()
    return job


def show_job(job: Any, where: Any) -> None:
    with where:
        ok = sum(1 for f in job.files if f.outcome in ("added", "replaced", "skipped"))
        if job.status in ("queued", "running"):
            st.progress(job.progress, text=t("upload_progress", done=job.files_done, total=job.files_total))
        else:
            st.progress(1.0, text=t("upload_done", ok=ok, failed=job.files_failed))
        st.dataframe([{
            t("col_name"): f.name,
            t("col_size"): human_size(f.size),
            t("col_outcome"): f"{OUTCOME_ICON.get(f.outcome, '')} {t('outcome_' + f.outcome)}",
            t("col_reason"): file_reason(f.detail) if f.outcome == "failed" else "",
        } for f in job.files], hide_index=True, width="stretch")
