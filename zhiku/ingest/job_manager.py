"""Runs ingestion jobs (see ``zhiku.ingest.jobs``) in a bounded pool of threads.

Parsing and embedding happen on these threads, never on the server's event loop.
Progress is kept in memory while a job runs (watchers are called on every change)
and written to the job's row at file boundaries and at most once a second between.
"""

from __future__ import annotations

import builtins
import logging
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from sqlalchemy import delete, insert, select, update

from zhiku.errors import Cancelled, Conflict, InvalidInput, NotFound, Unavailable, ZhikuError
from zhiku.ingest.jobs import KEPT, UploadStaging
from zhiku.schema.jobs import ACTIVE, FileOutcome, Job, JobFile, JobStatus
from zhiku.ingest.pipeline import Source
from zhiku.schema import FileRecord, KnowledgeBase
from zhiku.store.catalog import as_utc
from zhiku.text.ids import new_id, now
from zhiku.store.db import jobs, kbs

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from zhiku.ingest.pipeline import Ingestor
    from zhiku.store.catalog import Catalog

log = logging.getLogger(__name__)
SAVE_EVERY_S = 1.0


@dataclass
class _Run:
    job: Job
    cancel: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    watchers: list[Callable[[], None]] = field(default_factory=list)
    shutting_down: bool = False
    fraction: float = 0.0  # share of the current file embedded
    saved_at: float = 0.0


class _Progress:
    """IngestProgress for one job: the ingestor takes its sources in order."""

    def __init__(self, mgr: "JobManager", run: _Run, order: list[int]) -> None:
        self.mgr, self.run, self.order = mgr, run, order
        self.k = 0
        self.cur_total = self.cur_done = 0

    def _next(self) -> None:
        if self.k < len(self.order):
            self.run.job.files[self.order[self.k]].outcome = "running"
        self.cur_total = self.cur_done = 0
        self.run.fraction = 0.0

    def files_found(self, total: int) -> None:
        with self.run.lock:
            self._next()
        self.mgr._changed(self.run, save=True)

    def file_started(self, name: str, chunks: int) -> None:
        with self.run.lock:
            self.run.job.chunks_total += chunks
            self.cur_total, self.cur_done = chunks, 0
        self.mgr._changed(self.run)

    def chunks_embedded(self, n: int) -> None:
        with self.run.lock:
            self.run.job.chunks_embedded += n
            self.cur_done += n
            self.run.fraction = min(self.cur_done / self.cur_total, 1.0) if self.cur_total else 0.0
        self.mgr._changed(self.run)

    def file_finished(self, name: str, outcome: FileOutcome, detail: str = "") -> None:
        with self.run.lock:
            entry = self.run.job.files[self.order[self.k]]
            entry.outcome, entry.detail = outcome, detail
            self.k += 1
            self._next()
        self.mgr._changed(self.run, save=True)

    def current(self) -> JobFile | None:
        return self.run.job.files[self.order[self.k]] if self.k < len(self.order) else None



def _job(row: Any) -> Job:
    job = Job(
        id=row.id, kb_id=row.kb_id, kb=row.kb_name, kind=row.kind, status=row.status, force=row.force,
        files=[JobFile(**f) for f in row.files or []], chunks_total=row.chunks_total,
        chunks_embedded=row.chunks_embedded, error=row.error, retry_of=row.retry_of,
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        started_at=row.started_at and as_utc(row.started_at), finished_at=row.finished_at and as_utc(row.finished_at),
    )
    if job.status not in ACTIVE:  # stopped by a crash: what was waiting or running did not finish
        for f in job.files:
            if f.outcome in ("queued", "running"):
                f.outcome, f.detail = "cancelled", "interrupted"
    job.recount()
    return job


class JobManager:
    def __init__(self, uploads_root: Path, engine: "Engine", catalog: "Catalog", ingestor: "Ingestor",
                 workers: int, max_file_bytes: int, max_upload_bytes: int) -> None:
        """``uploads_root``: where uploads are staged (HOME/uploads); ``max_file_bytes`` and
        ``max_upload_bytes``: the limits a staged upload enforces per file and in all."""
        self.engine, self.catalog, self.ingestor = engine, catalog, ingestor
        self.max_file_bytes, self.max_upload_bytes = max_file_bytes, max_upload_bytes
        self.root = uploads_root
        self.root.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zhiku-ingest")
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()
        self._retry_lock = threading.Lock()
        self._closed = False
        self._recover()

    # -- start and stop --------------------------------------------------------------
    def _recover(self) -> None:
        """Jobs the last process left queued or running are interrupted; orphaned staging goes."""
        ts = now()
        with self.engine.begin() as conn:
            n = conn.execute(update(jobs).where(jobs.c.status.in_(ACTIVE)).values(
                status="interrupted", finished_at=ts, updated_at=ts,
                error="the server stopped before this job finished; retry it to finish the remaining files",
            )).rowcount
            known = {r.id for r in conn.execute(select(jobs.c.id))}
        if n:
            log.warning("%d ingestion job(s) were interrupted by the last shutdown", n)
        for d in self.root.iterdir():
            if d.name not in known:
                shutil.rmtree(d, ignore_errors=True)

    def shutdown(self) -> None:
        """Stop running jobs (they read as interrupted, their files can be retried) and wait."""
        with self._lock:
            self._closed = True
            runs = list(self._runs.values())
        for run in runs:
            run.shutting_down = True
            run.cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for run in runs:  # queued ones never started
            if run.job.status == "queued":
                self._finish(run, "interrupted", "the server stopped before this job started")

    # -- submitting ------------------------------------------------------------------
    def stage(self) -> UploadStaging:
        job_id = new_id()
        return UploadStaging(self.root / job_id, job_id, self.max_file_bytes, self.max_upload_bytes)

    def submit(self, kb: KnowledgeBase, staging: UploadStaging, force: bool = False,
               kind: Literal["upload", "reingest", "retry"] = "upload", retry_of: str | None = None) -> Job:
        if not staging.files:
            staging.discard()
            raise InvalidInput("the upload holds no files")
        ts = now()
        job = Job(id=staging.job_id, kb_id=kb.id, kb=kb.name, kind=kind, status="queued",
                  force=force, files=staging.files, retry_of=retry_of, created_at=ts, updated_at=ts)
        job.recount()
        with self._lock:
            if self._closed:
                staging.discard()
                raise Unavailable("the server is shutting down")
            with self.engine.begin() as conn:
                conn.execute(insert(jobs).values(**self._values(job)))
            run = self._runs[job.id] = _Run(job)
            self._pool.submit(self._work, run)
        return self._snapshot(run)

    def submit_reingest(self, kb: KnowledgeBase, record: FileRecord, stored: Path) -> Job:
        staging = self.stage()
        try:
            staged = staging.add(record.name)
            staged.close()
            shutil.copyfile(stored, staging.directory / "0")
            staged.entry.size = record.size
        except BaseException:
            staging.discard()
            raise
        return self.submit(kb, staging, force=True, kind="reingest")

    def retry(self, job_id: str) -> Job:
        """A new job for the files of a finished job that did not make it (failed, cancelled, interrupted)."""
        with self._retry_lock:
            job = self.get(job_id)
            if job.status in ACTIVE:
                raise Conflict(f"job {job_id} is still {job.status}", job_id=job_id)
            todo = [i for i, f in enumerate(job.files)
                    if f.outcome not in KEPT and f.staged and (self.root / job_id / str(i)).is_file()]
            if not todo:
                raise Conflict(f"job {job_id} has no failed or unfinished files left to retry", job_id=job_id)
            kb = self.catalog.get_kb_by_id(job.kb_id)
            staging = self._move_for_retry(job, todo)
        return self.submit(kb, staging, force=job.force, kind="retry", retry_of=job_id)

    def _move_for_retry(self, job: Job, todo: list[int]) -> UploadStaging:
        staging = self.stage()
        job_id = job.id
        for i in todo:
            entry = job.files[i]
            staging.files.append(JobFile(name=entry.name, size=entry.size))
            (self.root / job_id / str(i)).replace(staging.directory / str(len(staging.files) - 1))
            entry.staged = False
            entry.detail = (entry.detail + "; " if entry.detail else "") + f"retried in job {staging.job_id}"
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(
                files=[f.model_dump() for f in job.files], updated_at=now()))
        self._drop_empty(job_id)
        return staging

    # -- reading ---------------------------------------------------------------------
    def _snapshot(self, run: _Run) -> Job:
        with run.lock:
            job = run.job.model_copy(deep=True)
        job.recount(run.fraction)
        return job

    def get(self, job_id: str) -> Job:
        run = self._runs.get(job_id)
        if run is not None:
            return self._snapshot(run)
        with self.engine.connect() as conn:
            row = conn.execute(self._select().where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"job {job_id} does not exist", job_id=job_id)
        return _job(row)

    def list(self, kb_id: str | None = None, status: str | None = None, limit: int = 50) -> list[Job]:
        q = self._select().order_by(jobs.c.created_at.desc()).limit(limit)
        if kb_id:
            q = q.where(jobs.c.kb_id == kb_id)
        if status:
            q = q.where(jobs.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        out = []
        for row in rows:
            run = self._runs.get(row.id)
            out.append(self._snapshot(run) if run is not None else _job(row))
        return out

    @staticmethod
    def _select() -> Any:
        return select(jobs, kbs.c.name.label("kb_name")).join(kbs, kbs.c.id == jobs.c.kb_id)

    def watch(self, job_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from a worker thread) whenever the job changes; returns the unsubscribe."""
        run = self._runs.get(job_id)
        if run is None:
            return lambda: None
        with run.lock:
            run.watchers.append(callback)

        def unsubscribe() -> None:
            with run.lock:
                if callback in run.watchers:
                    run.watchers.remove(callback)

        return unsubscribe

    def active_for_kb(self, kb_id: str) -> builtins.list[str]:  # in this class `list` names the method
        return [j for j, r in list(self._runs.items()) if r.job.kb_id == kb_id]

    # -- changing --------------------------------------------------------------------
    def cancel(self, job_id: str) -> Job:
        run = self._runs.get(job_id)
        if run is None:
            job = self.get(job_id)
            raise Conflict(f"job {job_id} already finished ({job.status})", job_id=job_id, status=job.status)
        run.cancel.set()
        with run.lock:
            run.job.cancel_requested = True
        self._changed(run)
        return self._snapshot(run)

    def delete(self, job_id: str) -> None:
        if job_id in self._runs:
            raise Conflict(f"job {job_id} is still running: cancel it first", job_id=job_id)
        self.get(job_id)
        with self.engine.begin() as conn:
            conn.execute(delete(jobs).where(jobs.c.id == job_id))
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    def drop_kb(self, kb_id: str) -> None:
        """Before a KB is deleted: refuse while it ingests, then forget its jobs and their staging."""
        active = self.active_for_kb(kb_id)
        if active:
            raise Conflict("the knowledge base is ingesting files: cancel its jobs first", jobs=active)
        with self.engine.begin() as conn:
            ids = [r.id for r in conn.execute(select(jobs.c.id).where(jobs.c.kb_id == kb_id))]
            conn.execute(delete(jobs).where(jobs.c.kb_id == kb_id))
        for job_id in ids:
            shutil.rmtree(self.root / job_id, ignore_errors=True)

    # -- the worker ------------------------------------------------------------------
    def _work(self, run: _Run) -> None:
        try:
            self._run(run)
        except Exception:  # never leave a job "running" behind a dead worker
            log.exception("ingestion job %s crashed", run.job.id)
            with self._lock:
                self._runs.pop(run.job.id, None)

    def _run(self, run: _Run) -> None:
        job = run.job
        if run.cancel.is_set():
            self._finish(run, "interrupted" if run.shutting_down else "cancelled")
            return
        with run.lock:
            job.status, job.started_at = "running", now()
        self._changed(run, save=True)
        order = [i for i, f in enumerate(job.files) if f.outcome == "queued"]
        progress = _Progress(self, run, order)
        status: JobStatus = "done"
        error: str | None = None
        try:
            kb = self.catalog.get_kb_by_id(job.kb_id)
            sources = [Source(self.root / job.id / str(i), job.files[i].name) for i in order]
            self.ingestor.add(kb, sources, job.force, progress, run.cancel.is_set)
        except Cancelled:
            status = "interrupted" if run.shutting_down else "cancelled"
            self._discard_partial(job, progress.current())
        except ZhikuError as exc:
            status, error = "failed", exc.message
        except Exception as exc:  # a bug must end the job, not the worker thread
            log.exception("ingestion job %s failed", job.id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        self._finish(run, status, error)

    def _discard_partial(self, job: Job, current: JobFile | None) -> None:
        """A cancelled file leaves no pending record behind (its staged copy stays for a retry)."""
        if current is None or job.started_at is None:
            return
        try:
            kb = self.catalog.get_kb_by_id(job.kb_id)
            partial = [f for f in self.catalog.files_named(kb.id, current.name)
                       if f.status == "pending" and as_utc(f.created_at) >= job.started_at]
            if partial:
                self.ingestor.remove(kb, [f.id for f in partial])
        except Exception:
            log.exception("could not clean up after cancelling job %s", job.id)

    def _finish(self, run: _Run, status: JobStatus, error: str | None = None) -> None:
        job = run.job
        with run.lock:
            job.status, job.error, job.finished_at = status, error, now()
            for i, f in enumerate(job.files):
                if f.outcome in ("queued", "running"):
                    f.outcome, f.detail = "cancelled", "interrupted" if status == "interrupted" else "cancelled"
                if f.outcome in KEPT and f.staged:
                    (self.root / job.id / str(i)).unlink(missing_ok=True)
                    f.staged = False
        self._drop_empty(job.id)
        self._changed(run, save=True)
        with self._lock:
            self._runs.pop(job.id, None)
        log.info("job %s %s: %d of %d files, %d failed", job.id, status, job.files_done, len(job.files),
                 job.files_failed)

    def _drop_empty(self, job_id: str) -> None:
        d = self.root / job_id
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()

    def _changed(self, run: _Run, save: bool = False) -> None:
        with run.lock:
            run.job.updated_at = now()
        if save or time.monotonic() - run.saved_at >= SAVE_EVERY_S:
            snap = self._snapshot(run)
            with self.engine.begin() as conn:
                conn.execute(update(jobs).where(jobs.c.id == snap.id).values(**self._values(snap)))
            run.saved_at = time.monotonic()
        with run.lock:
            watchers = list(run.watchers)
        for w in watchers:
            try:
                w()
            except Exception:  # a closed stream must not break the job
                log.debug("job watcher failed", exc_info=True)

    @staticmethod
    def _values(job: Job) -> dict[str, Any]:
        return {
            "id": job.id, "kb_id": job.kb_id, "kind": job.kind, "status": job.status, "force": job.force,
            "files": [f.model_dump() for f in job.files], "chunks_total": job.chunks_total,
            "chunks_embedded": job.chunks_embedded, "error": job.error, "retry_of": job.retry_of,
            "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
            "updated_at": job.updated_at,
        }
