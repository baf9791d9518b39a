"""How a process runs ingestion jobs it claims from the database (the running half of ``JobManager``).

One loop thread per process claims queued jobs (``zhiku.ingest.claims``) while the pool has free
threads, renews the leases of the jobs it runs every ``jobs.heartbeat_s``, and picks up cancel requests
made by other processes. A job runs on a pool thread: its progress is kept in memory (watchers are
called on every change) and written to its row at file boundaries and at most once a second between.
A clean stop gives running jobs back (queued again); a process that stalls past most of its lease
stops before committing anything more and gives its job back too.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from zhiku.config.jobs import JobSettings
from zhiku.errors import Cancelled, NotFound, ZhikuError
from zhiku.ingest.claims import Claimed, Claims, Exhausted, new_worker_id
from zhiku.ingest.job_run import Run, RunProgress, job_from_row, job_values
from zhiku.ingest.jobs import KEPT
from zhiku.ingest.pipeline import Source
from zhiku.schema.jobs import Job, JobFile, JobStatus
from zhiku.store.catalog import as_utc
from zhiku.store.db import jobs, kbs
from zhiku.text.ids import now, sha256_file

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from zhiku.ingest.pipeline import Ingestor
    from zhiku.store.catalog import Catalog

log = logging.getLogger(__name__)
SAVE_EVERY_S = 1.0
JobEvent = Literal["claimed", "taken_over", "progress", "finished", "released", "failed"]


class JobRunner:
    def __init__(self, uploads_root: Path, engine: "Engine", catalog: "Catalog", ingestor: "Ingestor",
                 workers: int, settings: JobSettings | None, ingest: bool,
                 on_event: Callable[[JobEvent, Job], None] | None, prepare: Callable[[], object] | None) -> None:
        self.engine, self.catalog, self.ingestor = engine, catalog, ingestor
        self.settings = settings or JobSettings()
        self.worker = new_worker_id(self.settings.worker_name)
        self.claims = Claims(engine, self.worker, self.settings.lease_s, self.settings.max_claims)
        self.ingesting, self.slots, self.on_event, self._prepare = ingest, workers, on_event, prepare
        self.root = uploads_root
        self.root.mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zhiku-ingest") if ingest else None
        self._runs: dict[str, Run] = {}
        self._remote: dict[str, tuple[list[Callable[[], None]], list[datetime | str | None]]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._wake = threading.Event()
        self.database_problem: str | None = None  # why the loop cannot reach the database, while it cannot
        self._thread = threading.Thread(target=self._loop, name="zhiku-jobs", daemon=True)

    def _begin(self) -> None:
        self._thread.start()

    def _read(self, job_id: str) -> Job:
        with self.engine.connect() as conn:
            row = conn.execute(self._select().where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"job {job_id} does not exist", job_id=job_id)
        return job_from_row(row)

    def shutdown(self) -> None:
        """Stop: running jobs are given back (queued again, for this or another process to finish)."""
        with self._lock:
            for run in self._runs.values():  # told to stop before `closing` reads true
                run.shutting_down = True
                run.cancel.set()
            self._closed = True
        self._wake.set()
        self._thread.join(timeout=60)
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:  # and any the loop claimed meanwhile
            run.shutting_down = True
            run.cancel.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for run in runs:  # claimed, never started
            if run.job.id in self._runs:
                self._release(run)

    @property
    def closing(self) -> bool:
        """Whether ``shutdown`` has begun (the jobs this process runs are being given back)."""
        return self._closed

    # -- the loop: claims, heartbeats, other processes' changes ----------------------
    def _loop(self) -> None:
        s = self.settings
        next_beat = 0.0
        if self.ingesting and self._prepare is not None:
            try:
                self._prepare()
            except Exception:  # the job that needs it fails with the reason
                log.warning("could not prepare for ingestion", exc_info=True)
        while not self._closed:
            try:
                if self.ingesting:
                    self._claim_while_free()
                if time.monotonic() >= next_beat:
                    self._heartbeat()
                    next_beat = time.monotonic() + s.heartbeat_s
                self._poll_cancels()
                self._poll_remote()
                if self.database_problem is not None:
                    log.warning("ingestion jobs: the database is reachable again")
                    self.database_problem = None
            except SQLAlchemyError as exc:  # the database went away: keep trying, say so once
                reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
                if self.database_problem is None:
                    log.warning("ingestion jobs: the database is not reachable (%s); trying again every %gs",
                                reason, s.poll_s)
                self.database_problem = reason
            except Exception:  # a bug must not end the loop that keeps the leases
                log.exception("ingestion jobs: unexpected error in the claim loop")
            self._wake.wait(min(s.poll_s, s.heartbeat_s))
            self._wake.clear()

    def _claim_while_free(self) -> None:
        while True:
            with self._lock:
                if self._closed or len(self._runs) >= self.slots:
                    return
            got = self.claims.claim()
            if got is None:
                return
            if isinstance(got, Exhausted):
                log.error("job %s failed: its workers stopped %d times while running it", got.job_id, got.claims)
                self._emit("failed", self._read(got.job_id))
                continue
            self._start(got)

    def _start(self, claimed: Claimed) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(self._select().where(jobs.c.id == claimed.job_id)).first()
        if row is None:
            return
        job = job_from_row(row)
        if claimed.taken_over:
            log.warning("job %s: taking it over from %s (its lease ran out)", job.id, claimed.previous_worker)
            self._settle_taken_over(job)
        run = Run(job)
        if job.cancel_requested:
            run.cancel.set()
        with self._lock:
            watched = self._remote.pop(job.id, None)
            if watched is not None:  # watchers from before the claim: told at once from now on
                run.watchers = watched[0]
            self._runs[job.id] = run
        self._emit("taken_over" if claimed.taken_over else "claimed", job)
        assert self._pool is not None
        self._pool.submit(self._work, run)

    def _settle_taken_over(self, job: Job) -> None:
        """The file a stopped worker was on: committed already (kept as added) or to be redone."""
        for i, entry in enumerate(job.files):
            if entry.outcome != "running":
                continue
            entry.outcome = "queued"
            staged = self.root / job.id / str(i)
            if not staged.is_file() or job.started_at is None:
                continue
            sha = sha256_file(staged)
            if any(f.sha256 == sha and f.status == "indexed" and as_utc(f.updated_at) >= job.started_at
                   for f in self.catalog.files_named(job.kb_id, entry.name)):
                entry.outcome, entry.detail = "added", "committed before its first worker stopped"

    def _heartbeat(self) -> None:
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            if run.job.status != "running" or run.lost:
                continue
            held, cancel = self.claims.renew(run.job.id)
            if held:
                run.renewed_at = time.monotonic()
            if not held and run.job.id in self._runs:
                log.warning("job %s: another process took it over (this one's lease ran out); stopping it here",
                            run.job.id)
                run.lost = True
                run.cancel.set()
            elif cancel:
                self._cancel_here(run)

    def _poll_cancels(self) -> None:
        with self._lock:
            ids = [j for j, r in self._runs.items() if not r.cancel.is_set()]
        if not ids:
            return
        with self.engine.connect() as conn:
            asked = {r.id for r in conn.execute(select(jobs.c.id).where(jobs.c.id.in_(ids), jobs.c.cancel_requested))}
        for job_id in asked:
            run = self._runs.get(job_id)
            if run is not None:
                self._cancel_here(run)

    def _poll_remote(self) -> None:
        """Tell watchers of jobs another process runs when their row changed."""
        with self._lock:
            watched = {j: w for j, w in self._remote.items() if w[0]}
        if not watched:
            return
        with self.engine.connect() as conn:
            seen = dict(conn.execute(select(jobs.c.id, jobs.c.updated_at).where(jobs.c.id.in_(list(watched)))).all())
        for job_id, (callbacks, last) in watched.items():
            current = seen.get(job_id, "gone")
            if current != last[0]:
                last[0] = current
                for cb in list(callbacks):
                    self._call(cb)

    # -- reading and telling ------------------------------------------------------
    def _snapshot(self, run: Run) -> Job:
        with run.lock:
            job = run.job.model_copy(deep=True)
        job.worker = self.worker if job.status == "running" else None
        job.recount(run.fraction)
        return job

    @staticmethod
    def _select() -> Any:
        return select(jobs, kbs.c.name.label("kb_name")).join(kbs, kbs.c.id == jobs.c.kb_id)

    def _cancel_here(self, run: Run) -> None:
        run.cancel.set()
        with run.lock:
            run.job.cancel_requested = True
        self._changed(run)

    # -- the work --------------------------------------------------------------------
    def _work(self, run: Run) -> None:
        try:
            self._run(run)
        except Exception:  # never leave a job held by a thread that is gone
            log.exception("ingestion job %s crashed", run.job.id)
            self._forget_run(run)

    def _run(self, run: Run) -> None:
        job = run.job
        if run.cancel.is_set():
            self._stopped(run, None)
            return
        with run.lock:
            job.status, job.started_at = "running", job.started_at or now()
            for i, f in enumerate(job.files):
                if f.outcome == "queued" and not (self.root / job.id / str(i)).is_file():
                    f.outcome = "failed"  # its staged copy stays (it may be there for a retry elsewhere)
                    f.detail = (f"its staged upload is not reachable from {self.worker} ({self.root / job.id}): "
                                "every server and worker must share the home folder's uploads/ and kbs/")
        self._changed(run, save=True)
        order = [i for i, f in enumerate(job.files) if f.outcome == "queued"]
        progress = RunProgress(run, order, self._changed)
        status: JobStatus = "done"
        error: str | None = None
        try:
            kb = self.catalog.get_kb_by_id(job.kb_id)
            sources = [Source(self.root / job.id / str(i), job.files[i].name) for i in order]
            self.ingestor.add(kb, sources, job.force, progress, lambda: self._should_stop(run))
        except Cancelled:
            self._stopped(run, progress.current())
            return
        except ZhikuError as exc:
            status, error = "failed", exc.message
        except Exception as exc:  # a bug must end the job, not the worker thread
            log.exception("ingestion job %s failed", job.id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        self._finish(run, status, error)

    def _should_stop(self, run: Run) -> bool:
        """Asked by the ingestor between batches and before each commit: cancelled, or the lease not
        renewed for most of its length (this process stalled or lost the database, so another may be
        taking the job over: it commits nothing more)."""
        if not run.cancel.is_set() and time.monotonic() - run.renewed_at > 0.75 * self.settings.lease_s:
            log.warning("job %s: its lease was not renewed in time; stopping it here", run.job.id)
            run.lost = True
            run.cancel.set()
        return run.cancel.is_set()

    def _stopped(self, run: Run, current: JobFile | None) -> None:
        """The run stopped early: taken over elsewhere, given back at shutdown, or cancelled."""
        if run.lost:  # give it back if it is still ours (stalled, not taken over): no need to wait for the lease
            self._release(run, quiet=True)
        elif run.shutting_down:
            self._release(run)
        else:
            self._discard_partial(run.job, current)
            self._finish(run, "cancelled")

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

    def _release(self, run: Run, quiet: bool = False) -> None:
        job = run.job
        with run.lock:
            job.status, job.updated_at, run.fraction = "queued", now(), 0.0
            for f in job.files:
                if f.outcome == "running":
                    f.outcome = "queued"
        released = self.claims.release(job.id, job_values(job))
        if not released and not quiet:
            log.warning("job %s: could not give it back (another process holds it)", job.id)
        self._forget_run(run)
        if released:
            self._emit("released", self._snapshot(run))

    def _finish(self, run: Run, status: JobStatus, error: str | None = None) -> None:
        job = run.job
        with run.lock:
            job.status, job.error, job.finished_at = status, error, now()
            for i, f in enumerate(job.files):
                if f.outcome in ("queued", "running"):
                    f.outcome, f.detail = "cancelled", "cancelled"
                if f.outcome in KEPT and f.staged:
                    (self.root / job.id / str(i)).unlink(missing_ok=True)
                    f.staged = False
        self._drop_empty(job.id)
        self._changed(run, save=True, extra={"lease_until": None})
        self._forget_run(run)
        if not run.lost:
            log.info("job %s %s: %d of %d files, %d failed", job.id, status, job.files_done, len(job.files),
                     job.files_failed)
            self._emit("finished", self._snapshot(run))

    def _forget_run(self, run: Run) -> None:
        with self._lock:
            self._runs.pop(run.job.id, None)
        self._wake.set()  # a thread is free: claim the next job

    def _drop_empty(self, job_id: str) -> None:
        d = self.root / job_id
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()

    def _changed(self, run: Run, save: bool = False, extra: dict[str, Any] | None = None) -> None:
        with run.lock:
            run.job.updated_at = now()
        if (save or time.monotonic() - run.saved_at >= SAVE_EVERY_S) and not run.lost:
            snap = self._snapshot(run)
            values = {k: v for k, v in job_values(snap).items() if k != "id"}
            if not self.claims.write(snap.id, {**values, **(extra or {})}):
                log.warning("job %s: another process holds it now; this one stops", snap.id)
                run.lost = True
                run.cancel.set()
            run.saved_at = time.monotonic()
            if save and snap.status == "running":
                self._emit("progress", snap)
        with run.lock:
            watchers = list(run.watchers)
        for w in watchers:
            self._call(w)

    def _emit(self, what: JobEvent, job: Job) -> None:
        if self.on_event is not None:
            try:
                self.on_event(what, job)
            except Exception:
                log.debug("job event listener failed", exc_info=True)

    @staticmethod
    def _call(watcher: Callable[[], None]) -> None:
        try:
            watcher()
        except Exception:  # a closed stream must not break the job
            log.debug("job watcher failed", exc_info=True)

