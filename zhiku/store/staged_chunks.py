"""Chunk writes beside ``Catalog.commit_file``: a file's whole chunk set replaced in one transaction
(Chatchat's custom ``docs``), and a large file's chunks written in batches while it is ``pending``
(not searchable: every search, rebuild and check reads only the chunks of ``indexed`` files) and
made searchable by one final transaction, so a file's chunks never all sit in memory at once.

Each function changes the database-resident indexes (``catalog.resident``) in the same transaction
as the chunks; in-memory indexes are the caller's (``Ingestor._change``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
from sqlalchemy import delete, func, insert, select, update

from zhiku.errors import InvalidInput, NotFound
from zhiku.store.db import chunks, files
from zhiku.text.ids import now

if TYPE_CHECKING:
    from zhiku.store.catalog import Catalog


def replace_file_chunks(catalog: "Catalog", kb_id: str, file_id: str,
                        rows: Sequence[dict[str, Any]]) -> tuple[list[int], list[int], int]:
    """The file ``file_id`` gets ``rows`` as its chunks, one for one, whatever their number: the old
    chunks go and the new ones come in one transaction. A ``failed`` file (one kept out of search, its
    stored copy kept) becomes ``indexed`` with them. Returns (new chunk ids, removed chunk ids, the
    KB's new revision)."""
    if not rows:
        raise InvalidInput("a file needs at least one chunk")
    with catalog.engine.begin() as conn:
        status = conn.execute(select(files.c.status).where(files.c.id == file_id, files.c.kb_id == kb_id)).scalar()
        if status is None:
            raise NotFound(f"file {file_id} does not exist", file_id=file_id)
        if status not in ("indexed", "failed"):
            raise InvalidInput(f"file {file_id} is still being added: its chunks cannot be replaced yet",
                               file_id=file_id)
        removed = catalog._chunk_ids(conn, [file_id])
        catalog._unresident(conn, kb_id, removed)
        conn.execute(delete(chunks).where(chunks.c.file_id == file_id))
        conn.execute(insert(chunks), [{**r, "kb_id": kb_id, "file_id": file_id} for r in rows])
        conn.execute(update(files).where(files.c.id == file_id).values(
            status="indexed", error=None, chunks=len(rows), updated_at=now()))
        revision = catalog._bump(conn, kb_id)
        added = [r.id for r in conn.execute(
            select(chunks.c.id).where(chunks.c.file_id == file_id).order_by(chunks.c.seq))]
        if catalog.resident is not None:
            catalog.resident.write(conn, kb_id, added, rows)
    return added, removed, revision


# -- a large file, in batches -----------------------------------------------------------------------
def stage_chunks(catalog: "Catalog", kb_id: str, file_id: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write a batch of a ``pending`` file's chunks (not searchable until ``commit_staged``)."""
    if not rows:
        return
    with catalog.engine.begin() as conn:
        status = conn.execute(select(files.c.status).where(files.c.id == file_id, files.c.kb_id == kb_id)).scalar()
        if status != "pending":  # removed meanwhile (a check --repair, the KB deleted): stop here
            raise NotFound(f"file {file_id} was removed while it was being added", file_id=file_id)
        conn.execute(insert(chunks), [{**r, "kb_id": kb_id, "file_id": file_id} for r in rows])


def drop_staged(catalog: "Catalog", file_id: str) -> None:
    """Remove the chunks written so far for a file that will not be committed (failed, cancelled) or
    is started again (the leftovers of an interrupted run)."""
    with catalog.engine.begin() as conn:
        conn.execute(delete(chunks).where(chunks.c.file_id == file_id))


def staged_rows(catalog: "Catalog", file_id: str, batch: int,
                conn: Any = None) -> Iterator[tuple[np.ndarray, list[list[str]], np.ndarray, list[dict[str, Any]]]]:
    """A file's chunks in ``seq`` order as (ids, tokens, vectors, rows) batches (``rows``: what the
    resident indexes take), read on ``conn`` when given (inside a transaction) or a new connection."""
    q = (select(chunks.c.id, chunks.c.seq, chunks.c.tokens, chunks.c.embedding).where(chunks.c.file_id == file_id)
         .order_by(chunks.c.seq))
    last = -1
    while True:
        page = q.where(chunks.c.seq > last).limit(batch)
        if conn is not None:
            part = list(conn.execute(page))
        else:
            with catalog.engine.connect() as c:
                part = list(c.execute(page))
        if not part:
            return
        last = part[-1].seq
        ids = np.array([r.id for r in part], dtype=np.int64)
        toks = [r.tokens.split(" ") if r.tokens else [] for r in part]
        vecs = np.vstack([np.frombuffer(r.embedding, dtype=np.float32) for r in part])
        rows = [{"tokens": r.tokens, "embedding": r.embedding} for r in part]
        yield ids, toks, vecs, rows


def commit_staged(catalog: "Catalog", kb_id: str, file_id: str, pages: int | None, replaces: Sequence[str],
                  batch: int) -> tuple[list[int], int, int]:
    """Make a file whose chunks were staged searchable in one transaction, as ``commit_file`` does
    (the versions it replaces go out, the revision moves). Returns (removed chunk ids, the KB's new
    revision, the file's chunk count); its chunks are then read with ``staged_rows``."""
    with catalog.engine.begin() as conn:
        replaces = catalog._superseded(conn, kb_id, file_id, replaces)
        removed = catalog._chunk_ids(conn, replaces)
        if replaces:
            catalog._unresident(conn, kb_id, removed)
            conn.execute(delete(chunks).where(chunks.c.file_id.in_(list(replaces))))
            conn.execute(delete(files).where(files.c.id.in_(list(replaces))))
        n = int(conn.execute(select(func.count()).select_from(chunks).where(chunks.c.file_id == file_id)).scalar_one())
        conn.execute(update(files).where(files.c.id == file_id).values(
            status="indexed", error=None, pages=pages, chunks=n, updated_at=now()))
        revision = catalog._bump(conn, kb_id)
        if catalog.resident is not None:
            for ids, _, _, rows in staged_rows(catalog, file_id, batch, conn):
                catalog.resident.write(conn, kb_id, ids.tolist(), rows)
    return removed, revision, n
