"""File chat: uploaded files become a temporary knowledge base that lives for a while.

The KB is an ordinary one (same ingestion job, same retrieval) whose name carries a reserved
prefix (``_tmp_<id>``): it is hidden from KB listings and ``/v1/models``, and users cannot
create KBs with that prefix. A ``temp_kbs`` row says whose it is and when it expires;
each use moves the expiry to ``chat.temp_ttl_minutes`` from now. A background sweep (every
``chat.sweep_interval_s``, and once at start) deletes expired ones with their files.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from zhiku.config import ChatSettings, IngestSettings
from zhiku.schema.chat import TempKB, TempKBFile
from zhiku.errors import Conflict, InvalidInput, NotFound, TooLarge, Unavailable, ZhikuError
from zhiku.store.catalog import as_utc
from zhiku.text.ids import new_id, now
from zhiku.store.db import temp_kbs

if TYPE_CHECKING:
    from zhiku.ingest.job_manager import JobManager
    from zhiku.store.catalog import Catalog
    from zhiku.ingest.jobs import UploadStaging
    from zhiku.schema.jobs import Job

log = logging.getLogger(__name__)
TEMP_PREFIX = "_tmp_"
KEPT = ("added", "replaced", "skipped")
ORPHAN_AFTER = timedelta(minutes=10)
WAIT_POLL_S = 0.1


def is_temp_kb(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


class TempKBs:
    def __init__(self, engine: Engine, catalog: "Catalog", chat: ChatSettings, ingest: IngestSettings,
                 embedder: str, dimensions: Callable[[str], int], jobs: Callable[[], "JobManager | None"],
                 delete_kb: Callable[[str], None]) -> None:
        """``embedder``: the one new temporary KBs use, ``dimensions(name)`` its vector size;
        ``jobs()``: the ingestion jobs when they run (None before ``zhiku start``);
        ``delete_kb(name)``: deletes a KB with its files and indexes."""
        self.engine, self.catalog, self.chat, self.ingest = engine, catalog, chat, ingest
        self.embedder, self.dimensions, self.jobs, self.delete_kb = embedder, dimensions, jobs, delete_kb
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sweep_lock = threading.Lock()

    @property
    def ttl(self) -> timedelta:
        return timedelta(minutes=self.chat.temp_ttl_minutes)

    # -- creating and reading ---------------------------------------------------------
    def create(self, owner: str, staging: "UploadStaging") -> TempKB:
        """A temporary KB for the staged files; their ingestion runs as a background job."""
        if not staging.files:
            staging.discard()
            raise InvalidInput("the upload holds no files")
        jobs = self.jobs()
        if jobs is None:
            staging.discard()
            raise Unavailable("background jobs are not started (they run inside `zhiku start`)")
        try:
            self._check_quota(owner, sum(f.size for f in staging.files))
        except BaseException:
            staging.discard()
            raise
        tid = new_id()
        try:
            kb = self.catalog.create_kb(TEMP_PREFIX + tid, "file chat (temporary)", self.embedder,
                                        self.dimensions(self.embedder), self.ingest.chunk_size,
                                        self.ingest.chunk_overlap)
        except BaseException:
            staging.discard()
            raise
        ts = now()
        files = [{"name": f.name, "size": f.size} for f in staging.files]
        with self.engine.begin() as conn:
            conn.execute(insert(temp_kbs).values(id=tid, kb_id=kb.id, owner=owner, files=files,
                                                 created_at=ts, expires_at=ts + self.ttl))
        try:
            job = jobs.submit(kb, staging)
        except BaseException:
            self._drop(tid, kb.name)
            raise
        with self.engine.begin() as conn:
            conn.execute(update(temp_kbs).where(temp_kbs.c.id == tid).values(job_id=job.id))
        return self.get(tid, owner)

    def add(self, tid: str, owner: str, staging: "UploadStaging") -> TempKB:
        """Add the staged files to the caller's temporary KB ``tid`` (same id; a file of a name it
        already holds replaces it); its ingestion runs as a background job, and the KB lives on for
        ``chat.temp_ttl_minutes`` from now. Refused while its earlier files are still being read."""
        try:
            if not staging.files:
                raise InvalidInput("the upload holds no files")
            info = self.get(tid, owner)
            if info.status == "expired":
                raise NotFound(f"uploaded files {tid} expired; upload them again", temp_kb=tid)
            if info.status == "ingesting":
                raise Conflict("the files uploaded earlier are still being read: add more once their status is "
                               "'ready'", temp_kb=tid, status=info.status)
            jobs = self.jobs()
            if jobs is None:
                raise Unavailable("background jobs are not started (they run inside `zhiku start`)")
            self._check_quota(owner, sum(f.size for f in staging.files), new_upload=False)
            kb = self.catalog.get_kb(TEMP_PREFIX + tid)
        except BaseException:
            staging.discard()
            raise
        adding = {f.name for f in staging.files}
        earlier = [f.model_dump() for f in info.files if f.name not in adding]  # with their outcomes
        job = jobs.submit(kb, staging)
        files = earlier + [{"name": f.name, "size": f.size} for f in staging.files]
        with self.engine.begin() as conn:
            conn.execute(update(temp_kbs).where(temp_kbs.c.id == tid).values(
                files=files, job_id=job.id, expires_at=now() + self.ttl))
        return self.get(tid, owner)

    def _check_quota(self, owner: str, adding: int, new_upload: bool = True) -> None:
        """Refuse an upload past the owner's quota (``chat.temp_max_per_user`` uploads kept at once,
        ``chat.temp_max_mb_per_user`` megabytes of files together), counting what has not expired."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(temp_kbs.c.files, temp_kbs.c.expires_at).where(
                temp_kbs.c.owner == owner, temp_kbs.c.expires_at > now())).all()
        if new_upload and len(rows) >= self.chat.temp_max_per_user:
            raise Conflict(f"you already keep {len(rows)} file chat uploads (at most {self.chat.temp_max_per_user}, "
                           "setting chat.temp_max_per_user): delete one or wait until one expires",
                           limit=self.chat.temp_max_per_user)
        held = sum(int(f.get("size", 0)) for r in rows for f in (r.files or []))
        limit = self.chat.temp_max_mb_per_user * 1024 * 1024
        if held + adding > limit:
            raise TooLarge(f"your file chat uploads would hold {(held + adding) / 2**20:.1f} MB, over your "
                           f"{self.chat.temp_max_mb_per_user} MB (setting chat.temp_max_mb_per_user): delete one "
                           "or wait until one expires", limit_mb=self.chat.temp_max_mb_per_user)

    def _row(self, tid: str, owner: str) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(select(temp_kbs).where(temp_kbs.c.id == tid, temp_kbs.c.owner == owner)).first()
        if row is None:
            raise NotFound(f"uploaded files {tid} do not exist (or expired)", temp_kb=tid)
        return row

    def _job(self, job_id: str | None) -> "Job | None":
        jobs = self.jobs()
        if job_id is None or jobs is None:
            return None
        try:
            return jobs.get(job_id)
        except NotFound:
            return None

    def get(self, tid: str, owner: str) -> TempKB:
        row = self._row(tid, owner)
        job = self._job(row.job_id)
        files = [TempKBFile(**f) for f in row.files or []]
        status, error = "ready", None
        if job is not None:  # the latest job's files, after those added by earlier ones (``add``)
            latest = [TempKBFile(name=f.name, size=f.size, outcome=f.outcome, detail=f.detail) for f in job.files]
            named = {f.name for f in latest}
            files = [f for f in files if f.name not in named] + latest
            if job.status in ("queued", "running"):
                status = "ingesting"
            elif not any(f.outcome in KEPT for f in files):
                status = "failed"
                error = job.error or "; ".join(f"{f.name}: {f.detail}" for f in job.files if f.detail) or job.status
        expires = as_utc(row.expires_at)
        if expires <= now():
            status = "expired"
        return TempKB(id=tid, status=status, files=files, job_id=row.job_id, error=error,
                      created_at=as_utc(row.created_at), expires_at=expires)

    def check(self, tid: str, owner: str) -> TempKB:
        """The uploaded files, when they exist, are the caller's and did not all fail."""
        info = self.get(tid, owner)
        if info.status == "failed":
            raise InvalidInput(f"none of the uploaded files could be read: {info.error}", temp_kb=tid)
        if info.status == "expired":
            raise NotFound(f"uploaded files {tid} expired; upload them again", temp_kb=tid)
        return info

    def kb_name(self, tid: str, owner: str, touch: bool = False, wait_s: float = 0.0,
                cancelled: Callable[[], bool] | None = None) -> str:
        """The KB to answer from, waiting up to ``wait_s`` for its files to be read; refuses while
        they still are, or when none could be read."""
        info = self.get(tid, owner)
        deadline = time.monotonic() + wait_s
        while info.status == "ingesting" and time.monotonic() < deadline and not (cancelled and cancelled()):
            time.sleep(WAIT_POLL_S)
            info = self.get(tid, owner)
        if info.status == "ingesting":
            raise Conflict("the uploaded files are still being read: wait until their status is 'ready'",
                           temp_kb=tid, status=info.status)
        if info.status == "failed":
            raise InvalidInput(f"none of the uploaded files could be read: {info.error}", temp_kb=tid)
        if info.status == "expired":
            raise NotFound(f"uploaded files {tid} expired; upload them again", temp_kb=tid)
        if touch:
            with self.engine.begin() as conn:
                conn.execute(update(temp_kbs).where(temp_kbs.c.id == tid).values(expires_at=now() + self.ttl))
        return TEMP_PREFIX + tid

    def delete(self, tid: str, owner: str) -> None:
        self._row(tid, owner)
        self._drop(tid, TEMP_PREFIX + tid)

    # -- cleaning up ------------------------------------------------------------------
    def _drop(self, tid: str, kb_name: str) -> bool:
        """Delete the KB (cancelling its ingestion first) and the row; False when it must wait."""
        try:
            kb = self.catalog.get_kb(kb_name)
        except NotFound:
            kb = None
        if kb is not None:
            jobs = self.jobs()
            if jobs is not None:
                for job_id in jobs.active_for_kb(kb.id):
                    try:
                        jobs.cancel(job_id)
                    except ZhikuError:
                        pass
            try:
                self.delete_kb(kb_name)
            except Conflict:
                return False  # still ingesting: the next sweep finishes it
        with self.engine.begin() as conn:
            conn.execute(delete(temp_kbs).where(temp_kbs.c.id == tid))
        return True

    def sweep(self, at: datetime | None = None) -> list[str]:
        """Delete every temporary KB expired at ``at`` (default now); returns their ids."""
        at = at or now()
        with self._sweep_lock:
            with self.engine.connect() as conn:
                rows = conn.execute(select(temp_kbs.c.id, temp_kbs.c.expires_at)).all()
            gone = []
            for row in rows:
                if as_utc(row.expires_at) <= at and self._drop(row.id, TEMP_PREFIX + row.id):
                    gone.append(row.id)
            # a temporary KB whose row was lost (a crash between the two writes) goes too
            known = {r.id for r in rows}
            for kb in self.catalog.list_kbs():
                if (is_temp_kb(kb.name) and kb.name[len(TEMP_PREFIX):] not in known
                        and kb.created_at < at - ORPHAN_AFTER):  # not one being created right now
                    self._drop(kb.name[len(TEMP_PREFIX):], kb.name)
        if gone:
            log.info("deleted %d expired temporary knowledge base(s)", len(gone))
        return gone

    def start_sweeper(self) -> None:
        """Sweep now and then every ``chat.sweep_interval_s`` on a daemon thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="zhiku-temp-kb-sweep", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        interval = self.chat.sweep_interval_s
        while True:
            try:
                self.sweep()
            except Exception:  # a failed sweep is retried at the next interval
                log.exception("sweeping temporary knowledge bases failed")
            if self._stop.wait(interval):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
