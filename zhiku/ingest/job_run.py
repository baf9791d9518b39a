"""One ingestion job as the process running it holds it: the in-memory run and its progress.

The job manager (``zhiku.ingest.job_manager``) makes a ``Run`` when it claims a job; the ingestor
reports progress through ``RunProgress``, which updates the job in memory and tells the manager
(which saves it and calls the watchers).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from zhiku.schema.jobs import ACTIVE, FileOutcome, Job, JobFile
from zhiku.store.catalog import as_utc


@dataclass
class Run:
    job: Job
    cancel: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    watchers: list[Callable[[], None]] = field(default_factory=list)
    shutting_down: bool = False  # this process stops: the job is given back, not ended
    lost: bool = False  # another process took the job over (our lease ran out): stop, write nothing
    fraction: float = 0.0  # share of the current file embedded
    saved_at: float = 0.0
    renewed_at: float = field(default_factory=time.monotonic)  # the lease's last renewal (or the claim)


class RunProgress:
    """IngestProgress for one job: the ingestor takes its sources in order."""

    def __init__(self, run: Run, order: list[int], changed: Callable[[Run, bool], None]) -> None:
        self.run, self.order, self.changed = run, order, changed
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
        self.changed(self.run, True)

    def file_started(self, name: str, chunks: int) -> None:
        with self.run.lock:
            self.run.job.chunks_total += chunks
            self.cur_total, self.cur_done = chunks, 0
        self.changed(self.run, False)

    def chunks_embedded(self, n: int) -> None:
        with self.run.lock:
            self.run.job.chunks_embedded += n
            self.cur_done += n
            self.run.fraction = min(self.cur_done / self.cur_total, 1.0) if self.cur_total else 0.0
        self.changed(self.run, False)

    def file_finished(self, name: str, outcome: FileOutcome, detail: str = "") -> None:
        with self.run.lock:
            entry = self.run.job.files[self.order[self.k]]
            entry.outcome, entry.detail = outcome, detail
            self.k += 1
            self._next()
        self.changed(self.run, True)

    def current(self) -> JobFile | None:
        return self.run.job.files[self.order[self.k]] if self.k < len(self.order) else None


def job_from_row(row: Any) -> Job:
    job = Job(
        id=row.id, kb_id=row.kb_id, kb=row.kb_name, kind=row.kind, status=row.status, force=row.force,
        files=[JobFile(**f) for f in row.files or []], chunks_total=row.chunks_total,
        chunks_embedded=row.chunks_embedded, error=row.error, retry_of=row.retry_of,
        cancel_requested=bool(row.cancel_requested), worker=row.worker if row.status == "running" else None,
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        started_at=row.started_at and as_utc(row.started_at), finished_at=row.finished_at and as_utc(row.finished_at),
    )
    if job.status not in ACTIVE:  # stopped by a crash: what was waiting or running did not finish
        for f in job.files:
            if f.outcome in ("queued", "running"):
                f.outcome, f.detail = "cancelled", "interrupted"
    job.recount()
    return job


def job_values(job: Job) -> dict[str, Any]:
    """The job's columns as the manager saves them (the claim's columns are the claim's)."""
    return {
        "id": job.id, "kb_id": job.kb_id, "kind": job.kind, "status": job.status, "force": job.force,
        "files": [f.model_dump() for f in job.files], "chunks_total": job.chunks_total,
        "chunks_embedded": job.chunks_embedded, "error": job.error, "retry_of": job.retry_of,
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "updated_at": job.updated_at,
    }
