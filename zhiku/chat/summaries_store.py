"""The ``summaries`` table: one row per file summary and one per KB summary (``file_id`` NULL).

A row is replaced whole (delete and insert in one transaction); rows of removed files go with
them (foreign key, ON DELETE CASCADE), and rows of superseded file versions with those versions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from zhiku.schema import FileRecord
from zhiku.store.catalog import as_utc
from zhiku.store.db import summaries
from zhiku.text.ids import new_id, now


@dataclass
class StoredSummary:
    file_id: str | None
    kind: str
    model: str | None
    text: str
    source: str
    created_at: datetime
    vector: np.ndarray | None


def file_source(record: FileRecord) -> str:
    """What a file summary summarised: the file's content and chunks as they are now (a re-ingest,
    a chunk edit or a replacement changes it; the summary is then stale)."""
    key = f"{record.id}|{record.sha256}|{as_utc(record.updated_at).isoformat()}|{record.chunks}"
    return hashlib.sha256(key.encode()).hexdigest()


def kb_source(description: str, parts: list[tuple[str, StoredSummary]]) -> str:
    """What a KB summary summarised: its description and its files' summaries."""
    h = hashlib.sha256(description.encode())
    for file_id, s in sorted(parts, key=lambda p: p[0]):
        h.update(f"|{file_id}|{s.source}|{s.kind}|{s.model}|{s.created_at.isoformat()}".encode())
    return h.hexdigest()


class SummaryStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, kb_id: str, file_id: str | None) -> StoredSummary | None:
        where = summaries.c.file_id.is_(None) if file_id is None else summaries.c.file_id == file_id
        with self.engine.connect() as conn:
            row = conn.execute(select(summaries).where(summaries.c.kb_id == kb_id, where)
                               .order_by(summaries.c.created_at.desc()).limit(1)).first()
        return _stored(row) if row is not None else None

    def all_files(self, kb_id: str) -> dict[str, StoredSummary]:
        """The KB's file summaries by file id."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(summaries).where(summaries.c.kb_id == kb_id, summaries.c.file_id.is_not(None))
                                .order_by(summaries.c.created_at))
            return {r.file_id: _stored(r) for r in rows}

    def put(self, kb_id: str, file_id: str | None, kind: str, model: str | None, text: str, source: str,
            vector: np.ndarray | None) -> StoredSummary:
        where = summaries.c.file_id.is_(None) if file_id is None else summaries.c.file_id == file_id
        blob = None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()
        ts = now()
        with self.engine.begin() as conn:
            conn.execute(delete(summaries).where(summaries.c.kb_id == kb_id, where))
            conn.execute(insert(summaries).values(
                id=new_id(), kb_id=kb_id, file_id=file_id, kind=kind, model=model, text=text, source=source,
                embedding=blob, created_at=ts))
        return StoredSummary(file_id, kind, model, text, source, as_utc(ts), vector)


def _stored(row: object) -> StoredSummary:
    blob = getattr(row, "embedding")
    vector = None if blob is None else np.frombuffer(blob, dtype=np.float32)
    return StoredSummary(getattr(row, "file_id"), getattr(row, "kind"), getattr(row, "model"), getattr(row, "text"),
                         getattr(row, "source"), as_utc(getattr(row, "created_at")), vector)
