"""`zhiku worker`: ingest queued uploads from the shared database, without serving HTTP.

Run one per machine next to the embedders to scale ingestion out: every `zhiku start` and
`zhiku worker` on one database claims queued jobs (``zhiku.ingest.claims``), so uploads made
through any server are ingested by whichever process is free. docs/deploy.md says how.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, Optional

import typer

from zhiku.cli import app, out, state
from zhiku.errors import Unavailable

if TYPE_CHECKING:
    from zhiku.app import Zhiku
    from zhiku.schema.jobs import Job


def database_error(url: str, exc: BaseException) -> Unavailable:
    """A database that cannot be reached, as one line naming it (its password hidden) and why."""
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:
        shown = "the configured database"
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return Unavailable(f"cannot reach the database {shown}: {reason[0] if reason else type(exc).__name__}")


def _line(event: str, job: "Job") -> str:
    head = f"job {job.id} ({job.kb})"
    added = sum(1 for f in job.files if f.outcome in ("added", "replaced"))
    if event == "claimed":
        return f"{head}: started, {job.files_total} file(s)"
    if event == "taken_over":
        return f"{head}: taken over from a worker that stopped, {job.files_total - job.files_done} file(s) left"
    if event == "progress":
        return f"{head}: {job.files_done}/{job.files_total} files, {job.chunks_embedded} chunks embedded"
    if event == "released":
        return f"{head}: given back, queued for the next worker ({job.files_done}/{job.files_total} files done)"
    if event == "failed":
        return f"{head}: failed: {job.error}"
    skipped = sum(1 for f in job.files if f.outcome == "skipped")
    return (f"{head}: {job.status}: {added} added, {skipped} unchanged, {job.files_failed} failed"
            + (f" ({job.error})" if job.error else ""))


@app.command("worker")
def worker(
    ctx: typer.Context,
    jobs: Optional[int] = typer.Option(
        None, "--jobs", min=1, max=16, help="jobs ingested at once (default server.ingest_workers)"),
) -> None:
    """Ingest queued uploads from the database, without serving HTTP, until Ctrl-C or SIGTERM: run
    one per machine next to the embedders to scale ingestion out (see docs/deploy.md)."""
    from sqlalchemy.exc import SQLAlchemyError

    st = state(ctx)
    settings = st.settings()
    try:
        zhiku: Zhiku = st.app()
    except SQLAlchemyError as exc:
        raise database_error(settings.db_url, exc) from None
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        manager = zhiku.start_jobs(jobs, ingest=True,
                                   on_event=lambda event, job: out.print(_line(event, job), markup=False))
        from sqlalchemy.engine import make_url

        shown = make_url(settings.db_url).render_as_string(hide_password=True)
        out.print(f"zhiku worker {manager.worker}: ingesting queued jobs from {shown} ({manager.slots} at once, "
                  f"lease {settings.jobs.lease_s:g}s) — Ctrl-C to stop", markup=False)
        if sys.platform == "win32" and (settings.index.vector == "faiss" or settings.index.lexical == "bm25"):
            out.print("note: this home keeps its search indexes in files (index.vector/index.lexical: faiss/bm25) "
                      "and Windows has no flock to share them between processes: run one process per home, or "
                      "use PostgreSQL with pgvector and pg_bm25 (docs/deploy.md)", markup=False)
        while not stop.wait(0.5):  # the job loop says on stderr when the database goes away and comes back
            pass
        out.print("stopping: running jobs are given back to the queue…", markup=False)
        zhiku.close()  # closing again at exit does nothing more
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    out.print("zhiku worker stopped", markup=False)
