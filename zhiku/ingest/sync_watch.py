"""Keeping followed folders in sync while the server runs: polling, not file-system events.

Why polling (and not watchdog's inotify/FSEvents observers): a KB's folders are often network
shares (NFS, SMB), Docker bind mounts from another OS, or synced cloud folders, where change events
are missing or partial; a stat of every file each few seconds sees every change on every file system
the same way and needs no dependency; a look at a folder of 10,000 files costs about 0.2 s of one core
(``ingest.sync_poll_s`` spaces the looks). A change is synced once the folder has looked the same for one more look, so a file being
copied in is read whole, not half-written.

At start the watcher resumes the syncs a killed process left (``SourceStore.interrupted``), and
syncs every watched folder once (changes made while the server was down).
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from zhiku.errors import Conflict, NotFound, ZhikuError

if TYPE_CHECKING:
    from zhiku.ingest.sync import FolderSync
    from zhiku.ingest.sync_store import SourceStore
    from zhiku.schema import KnowledgeBase

log = logging.getLogger(__name__)

Snapshot = frozenset[tuple[str, int, int]]


def snapshot(folder: Path) -> Snapshot | None:
    """(path, size, mtime) of every file under ``folder`` (hidden entries skipped); None when the
    folder is not there."""
    out: set[tuple[str, int, int]] = set()
    if not folder.is_dir():
        return None
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for n in names:
            if n.startswith("."):
                continue
            p = os.path.join(root, n)
            try:
                st = os.stat(p)
            except OSError:
                continue
            out.add((p, st.st_size, st.st_mtime_ns))
    return frozenset(out)


def changed_since(folder: Path, since: datetime) -> bool:
    """Whether a file or folder under ``folder`` was modified at or after ``since`` (a file added, changed,
    renamed or removed changes its folder's time too); True when the folder cannot be read."""
    limit = (since if since.tzinfo else since.replace(tzinfo=timezone.utc)).timestamp()  # stored times are UTC
    if not folder.is_dir():
        return True
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for p in [root] + [os.path.join(root, n) for n in names if not n.startswith(".")]:
            try:
                if os.stat(p).st_mtime >= limit:
                    return True
            except OSError:
                return True
    return False


class SourceWatcher:
    """A thread that polls the watched folders every ``interval_s`` and syncs the changed ones."""

    def __init__(self, store: "SourceStore", syncer: "FolderSync", kb_by_id: Callable[[str], "KnowledgeBase"],
                 interval_s: float = 2.0) -> None:
        self.store, self.syncer, self.kb_by_id, self.interval_s = store, syncer, kb_by_id, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, Snapshot | None] = {}  # source id -> the snapshot last synced
        self._pending: dict[str, Snapshot | None] = {}  # source id -> a changed snapshot waiting to settle
        self.syncs = 0  # syncs run (for status and tests)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="zhiku-sync-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _sync(self, source_id: str, kb_id: str) -> None:
        try:
            kb = self.kb_by_id(kb_id)
            source = self.store.get(kb_id, source_id)
            self.syncer.sync(kb, source, cancelled=self._stop.is_set)
            self.syncs += 1
        except (Conflict, NotFound) as exc:
            log.info("sync of source %s skipped: %s", source_id, exc)
        except ZhikuError as exc:
            log.warning("sync of source %s failed: %s", source_id, exc)
        except Exception:  # noqa: BLE001 - the watcher outlives one bad sync
            log.exception("sync of source %s failed", source_id)

    def _loop(self) -> None:
        try:
            for s in self.store.interrupted():
                log.warning("resuming the interrupted sync of %s", s.path)
                self._seen[s.id] = snapshot(Path(s.path))
                self._sync(s.id, s.kb_id)
        except Exception:  # noqa: BLE001
            log.exception("resuming interrupted syncs failed")
        first = True
        while not self._stop.is_set():
            try:
                self.poll(first)
            except Exception:  # noqa: BLE001 - a database hiccup: look again next time
                log.warning("watching the followed folders failed", exc_info=True)
            first = False
            self._stop.wait(self.interval_s)

    def poll(self, first: bool = False) -> None:
        """One look at every watched folder; syncs those changed (and settled) since their last sync."""
        for s in self.store.listing():
            if self._stop.is_set():
                return
            if not s.watch:
                self._seen.pop(s.id, None)
                continue
            now = snapshot(Path(s.path))
            if s.id not in self._seen:
                self._seen[s.id] = now
                if first:  # changes made while no server watched
                    self._sync(s.id, s.kb_id)
                    continue
                if s.synced_at is not None:
                    since = s.report.started_at or s.synced_at
                    if not changed_since(Path(s.path), since):
                        continue  # a source synced already (by `zhiku kb sync` or its first sync), newly seen
                    # changed since its last sync began (it may have changed before this thread first
                    # looked): sync it now rather than take the changed folder as the one synced
                self._sync(s.id, s.kb_id)
                continue
            if now == self._seen[s.id]:
                self._pending.pop(s.id, None)
                continue
            if self._pending.get(s.id) != now:  # still changing: wait for it to settle
                self._pending[s.id] = now
                continue
            self._pending.pop(s.id, None)
            self._seen[s.id] = now
            self._sync(s.id, s.kb_id)
