"""Folders a knowledge base follows: each sync makes the KB's files under the folder's name match it.

A folder source ``/data/handbook`` owns the KB's files named ``handbook/...`` (the names ``zhiku kb add``
gives a folder's files, so a folder added before is adopted, not ingested twice). A sync:

1. lists the folder (hidden entries skipped, as ``kb add`` does);
2. **renames**: a new name whose content (sha256) is that of an indexed file gone from the folder takes
   that file's record: the catalog renames it, its chunks and vectors stay (nothing is embedded again);
3. **adds** through the ingestion pipeline: new and changed files are ingested, unchanged ones are
   hashed and skipped (``Ingestor.add``);
4. **removes** the KB's files of the folder that are no longer in it.

Each step is idempotent and each file its own transaction, so a sync killed at any point is
resumed by running it again: the source stays ``syncing`` with the dead worker's host:pid, and the
next ``zhiku kb sync`` or server start (``SourceWatcher``) runs it to the end; what the killed run
committed is found unchanged. Progress and per-file outcomes are written to the source's row as the
sync goes (``SyncReport``), and reported to an ``IngestProgress`` as uploads are.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from sqlalchemy import update

from zhiku.errors import Cancelled, Conflict, NotFound
from zhiku.ingest.pipeline import IngestProgress, Source, expand_paths
from zhiku.ingest.sync_store import SourceStore
from zhiku.ingest.sync_watch import SourceWatcher
from zhiku.schema import FileRecord, KnowledgeBase
from zhiku.schema.jobs import FileOutcome
from zhiku.schema.sources import KBSource, SyncedFile, SyncOutcome, SyncReport
from zhiku.store.db import files
from zhiku.text.ids import now, sha256_file

if TYPE_CHECKING:
    from zhiku.ingest.pipeline import Ingestor

log = logging.getLogger(__name__)

class _Recorder:
    """Forwards the pipeline's progress to the caller's and keeps the source's report current."""

    def __init__(self, report: SyncReport, save: Callable[[], None], outer: IngestProgress | None) -> None:
        self.report, self.save, self.outer = report, save, outer

    def record(self, name: str, outcome: SyncOutcome | str, detail: str = "") -> None:
        r = self.report
        r.files_done += 1
        r.current = ""
        if outcome == "skipped" and detail == "unchanged":
            r.unchanged += 1
        else:
            setattr(r, outcome, getattr(r, outcome) + 1)
            r.files.append(SyncedFile.model_validate({"name": name, "outcome": outcome, "detail": detail}))
        self.save()

    # IngestProgress
    def files_found(self, total: int) -> None: ...  # the sync counts its files itself

    def file_started(self, name: str, chunks: int) -> None:
        self.report.current = name
        if self.outer:
            self.outer.file_started(name, chunks)

    def chunks_embedded(self, n: int) -> None:
        if self.outer:
            self.outer.chunks_embedded(n)

    def file_finished(self, name: str, outcome: FileOutcome, detail: str = "") -> None:
        self.record(name, outcome, detail)
        if self.outer:
            self.outer.file_finished(name, outcome, detail)


@dataclass(frozen=True)
class Followed:
    """What ``follow`` did: the source, whether it is new, and whether the caller holds its sync."""

    source: KBSource
    new: bool
    claimed: bool


class FolderSync:
    """Runs syncs: ``sync(kb, source)`` (see the module docstring)."""

    def __init__(self, ingestor: "Ingestor", store: SourceStore) -> None:
        self.ingestor, self.store = ingestor, store
        self._lock = threading.Lock()
        self._running: set[str] = set()  # sources this process syncs now

    def sync(self, kb: KnowledgeBase, source: KBSource, progress: IngestProgress | None = None,
             cancelled: Callable[[], bool] | None = None) -> SyncReport:
        return self.run(kb, self.begin(source), progress, cancelled)

    def begin(self, source: KBSource) -> KBSource:
        """Claim the source for a sync by this process (``Conflict`` while one runs anywhere). The
        claim is written under the lock: a source this process syncs is ``syncing`` in its row too."""
        with self._lock:
            if source.id in self._running:
                raise Conflict(f"{source.path} is being synced already", source=source.id)
            claimed = self.store.claim(source)
            self._running.add(source.id)
            return claimed

    def follow(self, kb: KnowledgeBase, path: str | Path, watch: bool | None = None) -> Followed:
        """Follow ``path`` and claim it for a sync by the caller (``run`` it). A new source is claimed
        as it is added, so the watcher cannot sync it first; one followed already is claimed unless a
        sync of it runs (``claimed`` False: the source as that sync has it, which the caller leaves)."""
        with self._lock:
            source, new = self.store.add(kb, path, watch, claim=True)
            if new:
                self._running.add(source.id)
                return Followed(source, new=True, claimed=True)
        try:
            return Followed(self.begin(source), new=False, claimed=True)
        except Conflict:
            return Followed(self.store.get(kb.id, source.id), new=False, claimed=False)

    def run(self, kb: KnowledgeBase, source: KBSource, progress: IngestProgress | None = None,
            cancelled: Callable[[], bool] | None = None) -> SyncReport:
        """The sync of a source ``begin`` claimed."""
        try:
            return self._claimed(kb, source, progress, cancelled)
        finally:
            with self._lock:
                self._running.discard(source.id)

    def _claimed(self, kb: KnowledgeBase, source: KBSource, progress: IngestProgress | None,
                 cancelled: Callable[[], bool] | None) -> SyncReport:
        report = source.report
        try:
            self._run(kb, source, report, progress, cancelled)
        except Cancelled:  # the process is stopping: the source stays ``syncing`` and is resumed next time
            report.cancelled = True
            self.store.save(source.id, report)
            raise
        except BaseException as exc:
            report.finished_at = now()
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            self.store.release(source.id, report, message)
            raise
        report.finished_at = now()
        self.store.release(source.id, report)
        return report

    def _run(self, kb: KnowledgeBase, source: KBSource, report: SyncReport, progress: IngestProgress | None,
             cancelled: Callable[[], bool] | None) -> None:
        folder = Path(source.path)
        if not folder.is_dir():
            raise NotFound(f"the folder {folder} is gone (or not mounted): nothing was changed; "
                           "remove the source to stop following it", path=str(folder))
        listing = [Source(s.path, source.prefix + s.name[len(folder.name):]) for s in expand_paths([folder])]
        in_folder = {s.name for s in listing}
        owned = [f for f in self.ingestor.catalog.list_files(kb.id)
                 if f.name.startswith(source.prefix + "/") and f.status != "pending"]  # pending: uploads under way
        known = {f.name for f in owned}
        gone = {f.name: f for f in owned if f.name not in in_folder}
        # renames: a new name holding the content of an indexed file that left the folder
        moved = {f.sha256: f for f in gone.values() if f.status == "indexed"}
        to_add: list[Source] = []
        renames: list[tuple[Source, FileRecord]] = []
        for src in listing:
            if src.name in known or not moved:
                to_add.append(src)
                continue
            if cancelled and cancelled():
                raise Cancelled("sync cancelled")
            try:
                old = moved.pop(sha256_file(src.path), None)
            except OSError:
                old = None  # unreadable now: the pipeline reports it
            if old is None:
                to_add.append(src)
            else:
                renames.append((src, old))
                del gone[old.name]
        report.files_total = len(listing) + len(gone)
        recorder = _Recorder(report, lambda: self.store.save(source.id, report), progress)
        if progress:
            progress.files_found(report.files_total)
        self.store.save(source.id, report)
        for src, old in renames:
            with self.ingestor.catalog.engine.begin() as conn:
                conn.execute(update(files).where(files.c.id == old.id).values(name=src.name, updated_at=now()))
            recorder.record(src.name, "renamed", f"from {old.name}")
            if progress:
                progress.file_finished(src.name, "replaced", f"renamed from {old.name}")

        added = self.ingestor.add(kb, to_add, progress=recorder, cancelled=cancelled)
        report.chunks, report.embedded = added.chunks, added.embedded

        if gone:
            if cancelled and cancelled():
                raise Cancelled("sync cancelled")
            self.ingestor.remove(kb, sorted(gone))
            for name in sorted(gone):
                recorder.record(name, "removed", "no longer in the folder")
                if progress:
                    progress.file_finished(name, "skipped", "removed: no longer in the folder")


class KBSources:
    """The folders KBs follow, by KB name: what the app, the CLI and the API call."""

    def __init__(self, ingestor: "Ingestor", poll_s: float = 2.0) -> None:
        self.catalog = ingestor.catalog
        self.store = SourceStore(ingestor.catalog.engine)
        self.syncer = FolderSync(ingestor, self.store)
        self.poll_s = poll_s
        self.watcher: SourceWatcher | None = None
        self._closing = threading.Event()  # background syncs stop at their next file once set
        self._threads: list[threading.Thread] = []

    def add(self, kb_name: str, path: str | Path, watch: bool | None = None) -> tuple[KBSource, bool]:
        return self.store.add(self.catalog.get_kb(kb_name), path, watch)

    def list_sources(self, kb_name: str) -> list[KBSource]:
        return self.store.listing(self.catalog.get_kb(kb_name).id)

    def get(self, kb_name: str, ref: str) -> KBSource:
        return self.store.find(self.catalog.get_kb(kb_name).id, ref)

    def remove(self, kb_name: str, ref: str) -> KBSource:
        source = self.get(kb_name, ref)
        self.store.remove(source.kb_id, source.id)
        return source

    def follow(self, kb_name: str, path: str | Path, watch: bool | None = None) -> Followed:
        """Follow a folder and claim its sync for the caller, who runs it: ``sync`` or
        ``sync_in_background`` with ``claimed=`` the source (see ``FolderSync.follow``)."""
        return self.syncer.follow(self.catalog.get_kb(kb_name), path, watch)

    def claim(self, kb_name: str, ref: str) -> KBSource | None:
        """Claim a followed folder's sync for the caller, who runs it (``sync`` with ``claimed=``);
        None while a sync of it runs (this process's or another's)."""
        kb = self.catalog.get_kb(kb_name)
        try:
            return self.syncer.begin(self.store.find(kb.id, ref))
        except Conflict:
            return None

    def sync(self, kb_name: str, ref: str, progress: IngestProgress | None = None,
             cancelled: Callable[[], bool] | None = None, claimed: KBSource | None = None) -> SyncReport:
        """Sync a followed folder now (``claimed``: the source ``follow`` claimed for this call)."""
        kb = self.catalog.get_kb(kb_name)
        if claimed is not None:
            return self.syncer.run(kb, claimed, progress, cancelled)
        return self.syncer.sync(kb, self.store.find(kb.id, ref), progress, cancelled)

    def follow_in_background(self, kb_name: str, path: str | Path, watch: bool | None = None) -> KBSource:
        """Follow a folder and sync it on a thread of its own; returns the source, ``syncing`` (poll it
        for progress). A sync of it running already (the watcher's, another process's) is the one
        asked for: its source is returned as it stands."""
        followed = self.follow(kb_name, path, watch)
        if not followed.claimed:
            return followed.source
        return self.sync_in_background(kb_name, followed.source.id, claimed=followed.source)

    def sync_in_background(self, kb_name: str, ref: str, claimed: KBSource | None = None) -> KBSource:
        """Start a sync on a thread of its own; returns the source, ``syncing`` (poll it for progress)."""
        kb = self.catalog.get_kb(kb_name)
        source = claimed if claimed is not None else self.syncer.begin(self.store.find(kb.id, ref))

        def run() -> None:
            try:
                self.syncer.run(kb, source, cancelled=self._closing.is_set)
            except Exception as exc:  # noqa: BLE001 - the source's row says what went wrong
                log.warning("sync of %s failed: %s", source.path, getattr(exc, "message", exc))

        thread = threading.Thread(target=run, name="zhiku-sync", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return source

    def start_watching(self) -> SourceWatcher:
        """Resume interrupted syncs and keep watched folders in sync (a thread; ``stop`` ends it)."""
        if self.watcher is None:
            self.watcher = SourceWatcher(self.store, self.syncer, self.catalog.get_kb_by_id, self.poll_s)
            self.watcher.start()
        return self.watcher

    def stop(self) -> None:
        """Stop watching and the background syncs (each at its next file: a sync resumes later)."""
        self._closing.set()
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        for t in self._threads:
            t.join(timeout=60)
