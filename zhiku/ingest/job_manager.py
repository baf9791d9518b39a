"""Runs ingestion jobs (see ``zhiku.ingest.jobs``), shared through the database by every process.

The public half: submitting, reading, watching, cancelling and deleting jobs, from any process; the
running half is ``zhiku.ingest.job_runner``. A job is submitted as a queued row. Every process with ingestion on (``zhiku start`` by default,
``zhiku worker`` always) runs a loop that claims queued jobs (``zhiku.ingest.claims``) while it has
free threads, renews the leases of the jobs it runs, and picks up cancel requests made by other
processes. Parsing and embedding happen on the pool's threads, never on the server's event loop.
Progress is kept in memory while a job runs (watchers are called on every change) and written to
the job's row at file boundaries and at most once a second between; other processes read the row
(their watchers are polled).

A clean stop gives running jobs back (queued again; the file that was half done is redone from its
staged copy by whoever claims it next). A process that dies keeps its claim until the lease runs
out; then another takes the job over: files already committed are not redone.
"""

from __future__ import annotations

import builtins
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from sqlalchemy import delete, insert, select

from zhiku.config.jobs import JobSettings
from zhiku.errors import Conflict, InvalidInput, Unavailable
from zhiku.ingest.job_run import job_from_row, job_values
from zhiku.ingest.job_runner import JobEvent, JobRunner
from zhiku.ingest.jobs import KEPT, UploadStaging
from zhiku.schema import FileRecord, KnowledgeBase
from zhiku.schema.jobs import ACTIVE, Job, JobFile
from zhiku.store.db import jobs
from zhiku.text.ids import new_id, now

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from zhiku.ingest.pipeline import Ingestor
    from zhiku.store.catalog import Catalog

__all__ = ["JobEvent", "JobManager"]
STAGING_GRACE_S = 3600.0  # a staging folder without a job row is an upload still arriving, until this old


class JobManager(JobRunner):
    def __init__(self, uploads_root: Path, engine: "Engine", catalog: "Catalog", ingestor: "Ingestor",
                 workers: int, max_file_bytes: int, max_upload_bytes: int, settings: JobSettings | None = None,
                 ingest: bool = True, on_event: Callable[[JobEvent, Job], None] | None = None,
                 prepare: Callable[[], object] | None = None) -> None:
        """``uploads_root``: where uploads are staged (HOME/uploads); ``max_file_bytes`` and
        ``max_upload_bytes``: the limits a staged upload enforces per file and in all; ``ingest``:
        whether this process claims and runs jobs (``workers`` at once) or only queues them;
        ``on_event``: told when this process claims, gives back or ends a job (``zhiku worker``);
        ``prepare``: run once before the first claim (loading the embedder: a model's first load can
        hold the interpreter long enough to starve the heartbeats of a job already claimed)."""
        super().__init__(uploads_root, engine, catalog, ingestor, workers, settings, ingest, on_event, prepare)
        self.max_file_bytes, self.max_upload_bytes = max_file_bytes, max_upload_bytes
        self._retry_lock = threading.Lock()
        self._clean_staging()
        self._begin()

    def _clean_staging(self) -> None:
        """Staging folders of no job (an upload refused or lost with its process) go once they are old."""
        with self.engine.connect() as conn:
            known = {r.id for r in conn.execute(select(jobs.c.id))}
        cutoff = time.time() - STAGING_GRACE_S
        for d in self.root.iterdir():
            try:
                if d.name not in known and d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True)
            except FileNotFoundError:
                pass

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
        if self._closed:
            staging.discard()
            raise Unavailable("the server is shutting down")
        with self.engine.begin() as conn:
            conn.execute(insert(jobs).values(**job_values(job)))
        self._wake.set()
        return job

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
        for i in todo:
            entry = job.files[i]
            staging.files.append(JobFile(name=entry.name, size=entry.size))
            (self.root / job.id / str(i)).replace(staging.directory / str(len(staging.files) - 1))
            entry.staged = False
            entry.detail = (entry.detail + "; " if entry.detail else "") + f"retried in job {staging.job_id}"
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job.id).values(
                files=[f.model_dump() for f in job.files], updated_at=now()))
        self._drop_empty(job.id)
        return staging

    # -- reading ---------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        run = self._runs.get(job_id)
        return self._snapshot(run) if run is not None else self._read(job_id)

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
            out.append(self._snapshot(run) if run is not None else job_from_row(row))
        return out

    def watch(self, job_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback`` (from another thread) whenever the job changes; returns the unsubscribe.
        A job this process runs tells at once; one another process runs is polled (``jobs.poll_s``)."""
        with self._lock:
            run = self._runs.get(job_id)
            if run is not None:
                with run.lock:
                    run.watchers.append(callback)
                holder = run.watchers
            else:
                holder = self._remote.setdefault(job_id, ([], [None]))[0]
                holder.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in holder:
                    holder.remove(callback)
                if job_id in self._remote and not self._remote[job_id][0]:
                    del self._remote[job_id]

        return unsubscribe

    def active_for_kb(self, kb_id: str) -> builtins.list[str]:  # in this class `list` names the method
        """Jobs of the KB queued or running, in any process."""
        with self.engine.connect() as conn:
            return [r.id for r in conn.execute(select(jobs.c.id).where(jobs.c.kb_id == kb_id,
                                                                        jobs.c.status.in_(ACTIVE)))]

    # -- changing --------------------------------------------------------------------
    def cancel(self, job_id: str) -> Job:
        run = self._runs.get(job_id)
        if run is not None:
            self.claims.request_cancel(job_id)
            self._cancel_here(run)
            return self._snapshot(run)
        job = self.get(job_id)
        if job.status not in ACTIVE:
            raise Conflict(f"job {job_id} already finished ({job.status})", job_id=job_id, status=job.status)
        if job.status == "queued":
            ts = now()
            job.status, job.finished_at, job.updated_at, job.cancel_requested = "cancelled", ts, ts, True
            for f in job.files:
                if f.outcome in ACTIVE:
                    f.outcome, f.detail = "cancelled", "cancelled"
            if self.claims.cancel_queued(job_id, {**job_values(job), "cancel_requested": True}):
                return self.get(job_id)
        self.claims.request_cancel(job_id)  # running in another process: it stops at its next look
        return self.get(job_id)

    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.status in ACTIVE:
            raise Conflict(f"job {job_id} is still {job.status}: cancel it first", job_id=job_id)
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

