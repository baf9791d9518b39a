"""The ``kb_sources`` rows of the folders KBs follow (``zhiku.ingest.sync`` runs their syncs): which
folders each KB follows, each one's sync state, and which process holds a sync (``host:pid``)."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from zhiku.errors import Conflict, InvalidInput, NotFound
from zhiku.schema import KnowledgeBase
from zhiku.schema.sources import KBSource, SyncReport
from zhiku.store.catalog import as_utc
from zhiku.store.db import kb_sources
from zhiku.text.ids import new_id, now

WORKER = f"{socket.gethostname()}:{os.getpid()}"
STALE_AFTER = timedelta(minutes=10)  # a worker on another host that wrote nothing for this long is gone


def worker_alive(worker: str | None, updated: Any = None) -> bool:
    """Whether the process ``host:pid`` may still be syncing (on this host: it exists)."""
    if not worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return updated is not None and now() - as_utc(updated) < STALE_AFTER
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _source(row: Any) -> KBSource:
    return KBSource(
        id=row.id, kb_id=row.kb_id, kind=row.kind, path=row.path, prefix=row.prefix, watch=row.watch,
        status=row.status, worker=row.worker, error=row.error, created_at=as_utc(row.created_at),
        synced_at=as_utc(row.synced_at) if row.synced_at else None, report=SyncReport(**(row.report or {})),
    )


def folder_to_follow(path: str | Path) -> Path:
    """``path`` resolved, once it is a folder a KB can follow (``InvalidInput`` saying why not)."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise InvalidInput(f"no such folder: {folder}", path=str(folder))
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a folder: a KB follows folders (add single files with "
                           "`zhiku kb add`)", path=str(folder))
    folder = folder.resolve()
    if folder == Path(folder.anchor):
        raise InvalidInput("the root of the file system cannot be followed: name a folder", path=str(folder))
    return folder


class SourceStore:
    """The ``kb_sources`` rows: which folders each KB follows, and each one's sync state."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, kb: KnowledgeBase, path: str | Path, watch: bool | None = None,
            claim: bool = False) -> tuple[KBSource, bool]:
        """Follow ``path`` (a folder; ``watch``: kept in sync by the server, default no); a folder
        followed already gets ``watch`` updated unless it is None. ``claim``: a new source is written
        ``syncing`` by this process, in the same transaction (its first sync is the caller's to run: no
        watcher can take it in between).
        Returns the source and whether it is new."""
        folder = folder_to_follow(path)
        prefix = folder.name
        for s in self.listing(kb.id):
            if s.path == str(folder):
                if watch is None:
                    return s, False
                with self.engine.begin() as conn:
                    conn.execute(update(kb_sources).where(kb_sources.c.id == s.id).values(watch=watch))
                return self.get(kb.id, s.id), False
            if s.prefix == prefix:
                raise Conflict(f"knowledge base '{kb.name}' follows {s.path} already, whose files are named "
                               f"'{prefix}/...' too; rename one of the folders", path=str(folder))
        sid = new_id()
        state: dict[str, Any] = dict(status="idle", report={})
        if claim:
            state = dict(status="syncing", worker=WORKER, report=SyncReport(started_at=now()).model_dump(mode="json"))
        with self.engine.begin() as conn:
            conn.execute(kb_sources.insert().values(
                id=sid, kb_id=kb.id, kind="folder", path=str(folder), prefix=prefix, watch=bool(watch),
                created_at=now(), **state))
        return self.get(kb.id, sid), True

    def listing(self, kb_id: str | None = None) -> list[KBSource]:
        q = select(kb_sources).order_by(kb_sources.c.created_at, kb_sources.c.id)
        if kb_id is not None:
            q = q.where(kb_sources.c.kb_id == kb_id)
        with self.engine.connect() as conn:
            return [_source(r) for r in conn.execute(q)]

    def get(self, kb_id: str, source_id: str) -> KBSource:
        with self.engine.connect() as conn:
            row = conn.execute(select(kb_sources).where(
                kb_sources.c.id == source_id, kb_sources.c.kb_id == kb_id)).first()
        if row is None:
            raise NotFound(f"no source '{source_id}' in this knowledge base", source=source_id)
        return _source(row)

    def find(self, kb_id: str, ref: str) -> KBSource:
        """A source by id, path or prefix (what a user types)."""
        for s in self.listing(kb_id):
            if ref in (s.id, s.prefix, s.path) or str(Path(ref).expanduser().resolve()) == s.path:
                return s
        raise NotFound(f"this knowledge base follows no folder '{ref}'", source=ref)

    def remove(self, kb_id: str, source_id: str) -> None:
        """Stop following a folder (its files stay in the KB)."""
        self.get(kb_id, source_id)
        with self.engine.begin() as conn:
            conn.execute(delete(kb_sources).where(kb_sources.c.id == source_id))

    def claim(self, source: KBSource) -> KBSource:
        """Mark the source ``syncing`` by this process; ``Conflict`` while a live process syncs it."""
        with self.engine.begin() as conn:
            row = conn.execute(select(kb_sources).where(kb_sources.c.id == source.id)).first()
            if row is None:
                raise NotFound(f"the source {source.path} was removed", source=source.id)
            current = _source(row)
            updated = current.report.finished_at or current.report.started_at
            if current.status == "syncing" and current.worker != WORKER and worker_alive(current.worker, updated):
                raise Conflict(f"{source.path} is being synced by {current.worker}", source=source.id)
            done = conn.execute(update(kb_sources).where(
                kb_sources.c.id == source.id, kb_sources.c.status == current.status,
                (kb_sources.c.worker == current.worker) if current.worker else kb_sources.c.worker.is_(None),
            ).values(status="syncing", worker=WORKER, error=None,
                     report=SyncReport(started_at=now()).model_dump(mode="json"))).rowcount
        if not done:
            raise Conflict(f"{source.path} is being synced by another process", source=source.id)
        return self.get(source.kb_id, source.id)

    def save(self, source_id: str, report: SyncReport) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(kb_sources).where(kb_sources.c.id == source_id, kb_sources.c.worker == WORKER)
                         .values(report=report.model_dump(mode="json")))

    def release(self, source_id: str, report: SyncReport, error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(kb_sources).where(kb_sources.c.id == source_id, kb_sources.c.worker == WORKER)
                         .values(status="idle", worker=None, error=error, synced_at=now(),
                                 report=report.model_dump(mode="json")))

    def interrupted(self) -> list[KBSource]:
        """Sources left ``syncing`` by a process that is gone: their syncs are to be resumed."""
        return [s for s in self.listing() if s.status == "syncing" and s.worker != WORKER
                and not worker_alive(s.worker, s.report.finished_at or s.report.started_at)]
