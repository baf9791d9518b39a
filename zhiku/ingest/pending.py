"""Which ``pending`` files are being added right now, and which were interrupted (a crash, a kill).

A file's record is ``pending`` from the moment its ingestion starts until it commits or fails. The
process adding it holds an exclusive lock (``flock``) on ``kbs/<kb>/adding/<file id>.lock`` all that
time; the operating system releases the lock when the process dies, however it dies, and the lock
file is removed only once the file is indexed or failed (not on Ctrl-C or a cancel). So at start,
a pending record whose lock file can be locked by us was interrupted, and so was one without a lock
file that is older than ``UNLOCKED_STALE_S`` (a record written before this release, one another machine
sharing the database is adding, or a system without ``flock``): ``Ingestor.clean_interrupted`` removes
those records and their stored copies. A record whose lock is held is being added: left alone. A new record's lock is made (:meth:`reserve`) before the record is written,
so no kill leaves a record of this home without its lock file: one between the two leaves a lock file
of no record, which :meth:`stale` removes (a kill between the record and its lock once left a record
no start removed for a day, and the same file was then added twice).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from zhiku.errors import Cancelled

if TYPE_CHECKING:
    from zhiku.schema import FileRecord

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
    def holding(self, kb_id: str, file_id: str, claimed: int | None = None) -> Iterator[None]:
        """Hold the file's lock while it is being added: ``claimed`` is the lock :meth:`claim` took
        on an interrupted record being resumed; a new record's lock file is made here, already locked.
        Its lock file goes when the file is done (indexed or failed) but stays when the adding stops
        half-way (Ctrl-C, a cancel: the record is still pending), so that the next start finds it
        unlocked and cleans the record up."""
        if not FLOCK:
            yield
            return
        path = self.path(kb_id, file_id)
        fd = claimed if claimed is not None else self._create_locked(path)
        if fd is None:  # a new record's id is new: its lock file cannot exist
            raise RuntimeError(f"the lock file of new pending file {file_id} exists already")
        done = False
        try:
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

    def reserve(self, kb_id: str) -> tuple[str, int]:
        """A new file id with its lock file made and locked, before the record of that id is written
        (give the descriptor to :meth:`holding`, or to :meth:`release` if the record is not written)."""
        from zhiku.text.ids import new_id

        while True:
            file_id = new_id()
            if not FLOCK:
                return file_id, -1
            fd = self._create_locked(self.path(kb_id, file_id))
            if fd is not None:
                return file_id, fd

    def release(self, kb_id: str, file_id: str, fd: int) -> None:
        """Give up an id from :meth:`reserve` whose record was not written."""
        if fd >= 0:
            self.path(kb_id, file_id).unlink(missing_ok=True)
            os.close(fd)

    def claim(self, kb_id: str, file_id: str, created_at: datetime) -> int | None:
        """Take the lock of a pending record whose ingestion was interrupted, to resume it: the lock's
        file descriptor (give it to :meth:`holding`), ``-1`` where there is no ``flock`` and the record
        is old enough to count as interrupted, or ``None`` when it is being added (its lock held, or
        it was made a moment ago) or another upload claimed it first. Checking and locking are one
        step: identical uploads at once used to both see a record "interrupted" and write it at once
        (or a check's brief lock made the adder go on unlocked), and one of them failed with "file
        ... was removed while it was being added"."""
        if not FLOCK:
            return -1 if self._old(created_at) else None
        path = self.path(kb_id, file_id)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:  # no lock file: a crash before it was made, or a record of before locks
            return self._create_locked(path) if self._old(created_at) else None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:  # not the lock file of an adding just finished
                return fd
        except (BlockingIOError, FileNotFoundError):
            pass  # held: being added (or checked this very moment); removed: just finished
        os.close(fd)
        return None

    def claim_resumable(self, kb_id: str, versions: "list[FileRecord]", sha: str,
                        current: "Callable[[str], FileRecord]") -> "tuple[FileRecord | None, int | None]":
        """An interrupted pending record among ``versions`` (a name's records) of content ``sha``, with
        its lock taken (:meth:`claim`), checked still pending once locked (``current``: the record now)."""
        for f in versions:
            if f.sha256 != sha or f.status != "pending":
                continue
            claimed = self.claim(kb_id, f.id, f.created_at)
            if claimed is None:
                continue
            if current(f.id).status == "pending":  # not finished before we took the lock
                return f, claimed
            if claimed >= 0:
                os.close(claimed)
        return None, None

    @staticmethod
    def _create_locked(path: Path) -> int | None:
        """Make ``path`` a lock file that is locked by us from the moment it exists (made aside, locked,
        then linked into place), so that no check ever finds it unlocked while its file is being added;
        ``None`` when ``path`` exists already."""
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.new")
        fd = os.open(aside, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # nobody else knows this file: at once
            os.link(aside, path)
        except FileExistsError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        finally:
            aside.unlink(missing_ok=True)
        return fd

    @staticmethod
    def _old(created_at: datetime) -> bool:
        created = created_at if created_at.tzinfo else created_at.replace(tzinfo=timezone.utc)
        return (datetime.now(timezone.utc) - created).total_seconds() > UNLOCKED_STALE_S

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
        return self._old(created_at)

    def forget(self, kb_id: str, file_id: str) -> None:
        self.path(kb_id, file_id).unlink(missing_ok=True)

    def stale(self, kb_id: str, pending: set[str]) -> list[Path]:
        """Lock files of records no longer pending (a cancelled job's, removed by the job) that nobody holds."""
        folder = self.kbs_root / kb_id / "adding"
        if not FLOCK or not folder.is_dir():
            return []
        litter = [p for p in folder.glob("*.lock") if p.stem not in pending
                  and self.interrupted(kb_id, p.stem, datetime.now(timezone.utc))]
        return litter + [p for p in folder.glob("*.new") if not _held(p)]  # made aside by a process killed then


def _held(path: Path) -> bool:
    """Whether some process holds ``path``'s lock (a vanished file is not held)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
