"""Which ``pending`` files are being added right now, and which were interrupted (a crash, a kill).

A file's record is ``pending`` from the moment its ingestion starts until it commits or fails. The
process adding it holds an exclusive lock (``flock``) on ``kbs/<kb>/adding/<file id>.lock`` all that
time; the operating system releases the lock when the process dies, however it dies, and the lock
file is removed only once the file is indexed or failed (not on Ctrl-C or a cancel). So at start,
a pending record whose lock file can be locked by us was interrupted, and so was one without a lock
file that is older than ``UNLOCKED_STALE_S`` (a crash between the record and its lock, a record
written before this release, or a system without ``flock``): ``Ingestor.clean_interrupted`` removes
those records and their stored copies. A record whose lock is held is being added: left alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from zhiku.errors import Cancelled

try:
    import fcntl

    FLOCK = True
except ImportError:  # Windows: no flock; only the age rule applies
    FLOCK = False

log = logging.getLogger(__name__)

UNLOCKED_STALE_S = 24 * 3600.0


class PendingLocks:
    def __init__(self, kbs_root: Path) -> None:
        self.kbs_root = kbs_root

    def path(self, kb_id: str, file_id: str) -> Path:
        return self.kbs_root / kb_id / "adding" / f"{file_id}.lock"

    @contextmanager
    def holding(self, kb_id: str, file_id: str) -> Iterator[None]:
        """Hold the file's lock while it is being added. Its lock file goes when the file is done
        (indexed or failed) but stays when the adding stops half-way (Ctrl-C, a cancel: the record is
        still pending), so that the next start finds it unlocked and cleans the record up."""
        if not FLOCK:
            yield
            return
        path = self.path(kb_id, file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        done = False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another process adds the same record (a resumed job): it holds it
                log.info("pending file %s is locked by another process", file_id)
            try:
                yield
            except Cancelled:
                raise
            except Exception:
                done = True  # failed: the record says so
                raise
            done = True
        finally:
            if done:
                path.unlink(missing_ok=True)
            os.close(fd)  # releases the lock

    def interrupted(self, kb_id: str, file_id: str, created_at: datetime) -> bool:
        """Whether the pending file's ingestion is no longer running anywhere on this home."""
        path = self.path(kb_id, file_id)
        if FLOCK and path.exists():
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                return False  # released and removed just now: it finished
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # held: being added
            finally:
                os.close(fd)
            return True
        created = created_at if created_at.tzinfo else created_at.replace(tzinfo=timezone.utc)
        return (datetime.now(timezone.utc) - created).total_seconds() > UNLOCKED_STALE_S

    def forget(self, kb_id: str, file_id: str) -> None:
        self.path(kb_id, file_id).unlink(missing_ok=True)

    def stale(self, kb_id: str, pending: set[str]) -> list[Path]:
        """Lock files of records no longer pending (a cancelled job's, removed by the job) that nobody holds."""
        folder = self.kbs_root / kb_id / "adding"
        if not FLOCK or not folder.is_dir():
            return []
        return [p for p in folder.glob("*.lock") if p.stem not in pending
                and self.interrupted(kb_id, p.stem, datetime.now(timezone.utc))]
