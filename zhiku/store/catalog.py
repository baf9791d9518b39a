"""Reads and writes of knowledge bases, files and chunks in the metadata database.

Every change that alters what a KB can find (a file becoming indexed, a file
removed) happens in one transaction that also bumps the KB's ``revision``; the
derived indexes compare their revision with it to know whether they are stale.
Database-resident index backends (``resident``, set by ``IndexManager``) are written
in that same transaction instead: nothing of theirs can go stale.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple, Sequence

import numpy as np
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from zhiku.errors import Conflict, InvalidInput, NotFound
from zhiku.schema import Chunk, FileRecord, KnowledgeBase
from zhiku.schema.limits import name_problem
from zhiku.store.db import chunks, files, kbs
from zhiku.text.ids import new_id, now

if TYPE_CHECKING:
    from zhiku.store.pg_indexes import ResidentWriter

_BAD_NAME = re.compile(r'[/\\:*?"<>|\x00-\x1f\x7f]')


class ChunkOrigin(NamedTuple):
    """The file a chunk came from, as a search hit names it (read in the chunk's own query)."""

    name: str
    doc_key: str | None


def as_utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; every timestamp zhiku writes is UTC."""
    return dt.replace(tzinfo=timezone.utc) if dt is not None and dt.tzinfo is None else dt


def validate_kb_name(name: str) -> str:
    """KB names may be Chinese; they never reach the file system, but we keep them sane: NFC (as
    every lookup normalises), no control, invisible or text-direction characters (display spoofing)."""
    name = unicodedata.normalize("NFC", name or "")
    problem = name_problem(name)
    if problem is not None:
        shown = name.encode("utf-8", "backslashreplace").decode("utf-8")
        raise InvalidInput(f"invalid knowledge base name '{shown}': {problem}", name=shown)
    if not name.strip():
        raise InvalidInput("a knowledge base needs a name")
    if name != name.strip():
        raise InvalidInput(f"knowledge base name '{name}' starts or ends with spaces")
    if len(name) > 100:
        raise InvalidInput("knowledge base names are at most 100 characters")
    if name in (".", "..") or _BAD_NAME.search(name):
        raise InvalidInput(
            f"invalid knowledge base name '{name}': it may not contain / \\ : * ? \" < > | or control characters",
            name=name,
        )
    return name


# statements every chat runs (a KB by name with its counts, its index state for IndexManager.get),
# built once: building one took as long as running it on SQLite
_INDEX_STATE = select(kbs.c.revision, kbs.c.index_backend, kbs.c.index_generation, kbs.c.embedder,
                      kbs.c.dimensions).where(kbs.c.id == bindparam("kb_id"))
_KB_NAMED = select(kbs).where(kbs.c.name == bindparam("name"))
_COUNTS = select(func.count(files.c.id), func.coalesce(func.sum(files.c.chunks), 0)).where(
    files.c.kb_id == bindparam("kb_id"), files.c.status == "indexed")


def _kb(row: Any, counts: tuple[int, int] = (0, 0)) -> KnowledgeBase:
    return KnowledgeBase(
        id=row.id, name=row.name, description=row.description, embedder=row.embedder,
        dimensions=row.dimensions, chunk_size=row.chunk_size, chunk_overlap=row.chunk_overlap,
        revision=row.revision, created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        files=counts[0], chunks=counts[1],
        index_backend=row.index_backend, index_generation=row.index_generation or "",
    )


def _file(row: Any) -> FileRecord:
    values = {c: getattr(row, c) for c in FileRecord.model_fields}
    values["created_at"], values["updated_at"] = as_utc(row.created_at), as_utc(row.updated_at)
    return FileRecord(**values)


def _chunk(row: Any) -> Chunk:
    return Chunk(
        id=row.id, kb_id=row.kb_id, file_id=row.file_id, seq=row.seq, text=row.text, kind=row.kind,
        page=row.page, page_end=row.page_end, section=list(row.section or []), start=row.start,
        end=row.end, meta=dict(row.meta or {}),
    )


class Catalog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # the KBs' indexes when they live in this database: changed inside each transaction below
        self.resident: ResidentWriter | None = None

    # -- knowledge bases -------------------------------------------------------------
    def create_kb(
        self, name: str, description: str, embedder: str, dimensions: int, chunk_size: int, chunk_overlap: int
    ) -> KnowledgeBase:
        name = validate_kb_name(name)
        ts = now()
        with self.engine.begin() as conn:
            if conn.execute(select(kbs.c.id).where(kbs.c.name == name)).first():
                raise Conflict(f"knowledge base '{name}' already exists", name=name)
            conn.execute(insert(kbs).values(
                id=new_id(), name=name, description=description or "", embedder=embedder,
                dimensions=dimensions, chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                revision=0, created_at=ts, updated_at=ts,
            ))
        return self.get_kb(name)

    def _counts(self, conn: Connection, kb_id: str) -> tuple[int, int]:
        nfiles, nchunks = conn.execute(_COUNTS, {"kb_id": kb_id}).one()
        return int(nfiles), int(nchunks)

    def get_kb(self, name: str) -> KnowledgeBase:
        name = unicodedata.normalize("NFC", name)  # as created (validate_kb_name)
        with self.engine.connect() as conn:
            row = conn.execute(_KB_NAMED, {"name": name}).first()
            if row is None:
                raise NotFound(f"knowledge base '{name}' does not exist", name=name)
            return _kb(row, self._counts(conn, row.id))

    def list_kbs(self) -> list[KnowledgeBase]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(kbs).order_by(kbs.c.created_at)).all()
            return [_kb(r, self._counts(conn, r.id)) for r in rows]

    def update_kb(self, kb_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(kbs).where(kbs.c.id == kb_id).values(updated_at=now(), **values))

    def delete_kb(self, kb_id: str) -> None:
        with self.engine.begin() as conn:
            if self.resident is not None:
                self.resident.drop(conn, kb_id)
            conn.execute(delete(chunks).where(chunks.c.kb_id == kb_id))
            conn.execute(delete(files).where(files.c.kb_id == kb_id))
            conn.execute(delete(kbs).where(kbs.c.id == kb_id))

    def revision(self, kb_id: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(kbs.c.revision).where(kbs.c.id == kb_id)).scalar_one())

    def index_state(self, kb_id: str) -> tuple[int, tuple[str | None, str, str, int]]:
        """The KB's revision and which copy of its indexes is current (backend, generation, embedder,
        dimensions), in one query: a search holding a KB record read before a migration's switch finds
        out here that its copy is no longer the KB's."""
        with self.engine.connect() as conn:
            row = conn.execute(_INDEX_STATE, {"kb_id": kb_id}).one()
        return int(row.revision), (row.index_backend, row.index_generation or "", row.embedder, int(row.dimensions))

    @staticmethod
    def _bump(conn: Connection, kb_id: str) -> int:
        conn.execute(update(kbs).where(kbs.c.id == kb_id).values(revision=kbs.c.revision + 1, updated_at=now()))
        return int(conn.execute(select(kbs.c.revision).where(kbs.c.id == kb_id)).scalar_one())

    # -- files -----------------------------------------------------------------------
    def list_files(self, kb_id: str, status: str | None = None) -> list[FileRecord]:
        q = select(files).where(files.c.kb_id == kb_id).order_by(files.c.name, files.c.created_at)
        if status:
            q = q.where(files.c.status == status)
        with self.engine.connect() as conn:
            return [_file(r) for r in conn.execute(q)]

    def get_file(self, file_id: str) -> FileRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(files).where(files.c.id == file_id)).first()
        if row is None:
            raise NotFound(f"file {file_id} does not exist", file_id=file_id)
        return _file(row)

    def files_named(self, kb_id: str, name: str) -> list[FileRecord]:
        name = unicodedata.normalize("NFC", name)  # as stored (zhiku.ingest.jobs.clean_upload_name)
        with self.engine.connect() as conn:
            rows = conn.execute(select(files).where(files.c.kb_id == kb_id, files.c.name == name))
            return [_file(r) for r in rows]

    def indexed_with_sha(self, kb_id: str, sha256: str) -> FileRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(files).where(
                files.c.kb_id == kb_id, files.c.sha256 == sha256, files.c.status == "indexed").limit(1)).first()
        return _file(row) if row else None

    def add_pending_file(self, kb_id: str, name: str, sha256: str, size: int, doc_key: str | None,
                         file_id: str | None = None) -> FileRecord:
        """A file's record, ``pending`` until it commits or fails; ``file_id``: an id chosen beforehand
        (the ingestion locks it before the record exists: pending.py)."""
        ts = now()
        fid = file_id or new_id()
        with self.engine.begin() as conn:
            conn.execute(insert(files).values(
                id=fid, kb_id=kb_id, name=name, sha256=sha256, size=size, status="pending",
                chunks=0, doc_key=doc_key, created_at=ts, updated_at=ts,
            ))
        return self.get_file(fid)

    def commit_file(
        self, kb_id: str, file_id: str, rows: Sequence[dict[str, Any]], pages: int | None,
        replaces: Sequence[str] = (),
    ) -> tuple[list[int], list[int], int]:
        """Make a file searchable in one transaction: its chunks go in, the versions it
        replaces go out, the KB's revision moves. The replaced versions are decided here, at
        commit time: ``replaces`` and every other indexed or failed version of its name (a
        concurrent upload of the name committed meanwhile: the last commit wins, one file per name).

        Returns (new chunk ids, removed chunk ids, the KB's new revision)."""
        with self.engine.begin() as conn:
            replaces = self._superseded(conn, kb_id, file_id, replaces)
            removed = self._chunk_ids(conn, replaces)
            leftovers = self._chunk_ids(conn, [file_id])  # a crash's, or a resumed record committed twice
            if replaces:
                conn.execute(delete(chunks).where(chunks.c.file_id.in_(list(replaces))))
                conn.execute(delete(files).where(files.c.id.in_(list(replaces))))
            conn.execute(delete(chunks).where(chunks.c.file_id == file_id))  # leftovers of a crash
            if rows:
                conn.execute(insert(chunks), [{**r, "kb_id": kb_id, "file_id": file_id} for r in rows])
            conn.execute(update(files).where(files.c.id == file_id).values(
                status="indexed", error=None, pages=pages, chunks=len(rows), updated_at=now(),
            ))
            revision = self._bump(conn, kb_id)
            added = [r.id for r in conn.execute(
                select(chunks.c.id).where(chunks.c.file_id == file_id).order_by(chunks.c.seq))]
            if self.resident is not None:
                self.resident.remove(conn, kb_id, removed + leftovers)
                self.resident.write(conn, kb_id, added, rows)
        return added, removed + leftovers, revision  # the file indexes drop the leftovers too

    @staticmethod
    def _superseded(conn: Connection, kb_id: str, file_id: str, replaces: Sequence[str]) -> list[str]:
        """``replaces`` and the other indexed or failed versions of the file's name, read after taking
        the KB's row for this transaction (commits of one KB queue here; pending versions of the name
        are uploads still under way, which replace this one when they commit)."""
        conn.execute(update(kbs).where(kbs.c.id == kb_id).values(updated_at=now()))
        name = conn.execute(select(files.c.name).where(files.c.id == file_id, files.c.kb_id == kb_id)).scalar()
        if name is None:
            raise NotFound(f"file {file_id} was removed while it was being added", file_id=file_id)
        others = conn.execute(select(files.c.id).where(
            files.c.kb_id == kb_id, files.c.name == name, files.c.id != file_id, files.c.status != "pending"))
        return sorted(set(replaces) | {r.id for r in others})

    def fail_file(self, file_id: str, error: str) -> list[str]:
        """Mark a file failed; earlier failed attempts of the same name go (the newest failure is the
        one that matters). Returns their ids, whose stored copies the caller removes."""
        with self.engine.begin() as conn:
            row = conn.execute(select(files.c.kb_id, files.c.name).where(files.c.id == file_id)).first()
            conn.execute(update(files).where(files.c.id == file_id).values(
                status="failed", error=error, updated_at=now()))
            if row is None:
                return []
            stale = [r.id for r in conn.execute(select(files.c.id).where(
                files.c.kb_id == row.kb_id, files.c.name == row.name, files.c.status == "failed",
                files.c.id != file_id))]
            if stale:  # failed files have no chunks: the KB's searchable content does not change
                conn.execute(delete(files).where(files.c.id.in_(stale)))
        return stale

    def unindex_file(self, kb_id: str, file_id: str, reason: str) -> tuple[list[int], int, list[str]]:
        """Take a file out of search but keep it: its chunks go, it becomes ``failed`` with ``reason``
        (not searchable, its stored copy kept, indexed again by a re-ingest). Returns (removed chunk
        ids, the KB's new revision, ids of earlier failed versions of its name, now gone)."""
        with self.engine.begin() as conn:  # one transaction: never an "indexed" file without chunks
            row = conn.execute(select(files.c.name).where(files.c.id == file_id, files.c.kb_id == kb_id)).first()
            if row is None:
                raise NotFound(f"file {file_id} does not exist", file_id=file_id)
            removed = self._chunk_ids(conn, [file_id])
            self._unresident(conn, kb_id, removed)
            conn.execute(delete(chunks).where(chunks.c.file_id == file_id))
            conn.execute(update(files).where(files.c.id == file_id).values(
                status="failed", error=reason, chunks=0, updated_at=now()))
            stale = [r.id for r in conn.execute(select(files.c.id).where(
                files.c.kb_id == kb_id, files.c.name == row.name, files.c.status == "failed",
                files.c.id != file_id))]
            if stale:
                conn.execute(delete(files).where(files.c.id.in_(stale)))
            revision = self._bump(conn, kb_id)
        return removed, revision, stale

    def remove_files(self, kb_id: str, file_ids: Sequence[str]) -> tuple[list[int], int]:
        """Returns (removed chunk ids, the KB's new revision)."""
        with self.engine.begin() as conn:
            removed = self._chunk_ids(conn, file_ids)
            self._unresident(conn, kb_id, removed)
            conn.execute(delete(chunks).where(chunks.c.file_id.in_(list(file_ids))))
            conn.execute(delete(files).where(files.c.id.in_(list(file_ids))))
            revision = self._bump(conn, kb_id)
        return removed, revision

    def _unresident(self, conn: Connection, kb_id: str, chunk_ids: Sequence[int]) -> None:
        if self.resident is not None and chunk_ids:
            self.resident.remove(conn, kb_id, chunk_ids)

    @staticmethod
    def _chunk_ids(conn: Connection, file_ids: Sequence[str]) -> list[int]:
        if not file_ids:
            return []
        return [r.id for r in conn.execute(select(chunks.c.id).where(chunks.c.file_id.in_(list(file_ids))))]

    # -- chunks ----------------------------------------------------------------------
    def file_chunks(self, file_id: str) -> list[Chunk]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(chunks).where(chunks.c.file_id == file_id).order_by(chunks.c.seq))
            return [_chunk(r) for r in rows]

    def chunks_by_id(self, ids: Sequence[int]) -> dict[int, tuple[Chunk, ChunkOrigin]]:
        """The indexed chunks among ``ids``, each with the file it came from."""
        if not ids:
            return {}
        out: dict[int, tuple[Chunk, ChunkOrigin]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(chunks, files.c.name.label("file_name"), files.c.doc_key.label("file_doc_key"))
                .join(files, files.c.id == chunks.c.file_id)
                .where(chunks.c.id.in_(list(ids)), files.c.status == "indexed")
            )
            for r in rows:
                out[r.id] = (_chunk(r), ChunkOrigin(r.file_name, r.file_doc_key))
        return out

    def chunk_ids_for_files(self, kb_id: str, file_ids: Sequence[str]) -> np.ndarray:
        with self.engine.connect() as conn:
            rows = conn.execute(select(chunks.c.id).where(
                chunks.c.kb_id == kb_id, chunks.c.file_id.in_(list(file_ids))))
            return np.fromiter((r.id for r in rows), dtype=np.int64)

    def chunk_counts(self, kb_id: str) -> dict[str, int]:
        """How many chunks each file of the KB has in the database (file id → count)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(chunks.c.file_id, func.count()).where(chunks.c.kb_id == kb_id)
                                .group_by(chunks.c.file_id))
            return {file_id: int(n) for file_id, n in rows}

    def picture_ids(self, kb_id: str, file_ids: Sequence[str] | None = None,
                    chunk_ids: Sequence[int] | None = None) -> set[str]:
        """The pictures (ids) the KB's chunks show (``meta["images"]``): all of them, or those of
        ``file_ids``' or ``chunk_ids``' chunks. Only chunks whose meta names pictures are read."""
        from sqlalchemy import Text, cast

        q = select(chunks.c.meta).where(chunks.c.kb_id == kb_id, cast(chunks.c.meta, Text).like('%"images"%'))
        if file_ids is not None:
            q = q.where(chunks.c.file_id.in_(list(file_ids)))
        if chunk_ids is not None:
            q = q.where(chunks.c.id.in_(list(chunk_ids)))
        with self.engine.connect() as conn:
            return {str(i) for (meta,) in conn.execute(q) for i in (meta or {}).get("images") or []}

    def set_chunk_count(self, file_id: str, n: int) -> None:
        """Correct a file's recorded chunk count (``kb check --repair``)."""
        with self.engine.begin() as conn:
            conn.execute(update(files).where(files.c.id == file_id).values(chunks=n))

    def index_rows(self, kb_id: str, batch: int = 5000) -> Iterator[tuple[np.ndarray, list[list[str]], np.ndarray]]:
        """Every searchable chunk of a KB as (ids, tokens, vectors) batches, to rebuild indexes."""
        q = (
            select(chunks.c.id, chunks.c.tokens, chunks.c.embedding)
            .join(files, files.c.id == chunks.c.file_id)
            .where(chunks.c.kb_id == kb_id, files.c.status == "indexed")
            .order_by(chunks.c.id)
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(q)
            while True:
                part = result.fetchmany(batch)
                if not part:
                    break
                ids = np.array([r.id for r in part], dtype=np.int64)
                toks = [r.tokens.split(" ") if r.tokens else [] for r in part]
                vecs = np.vstack([np.frombuffer(r.embedding, dtype=np.float32) for r in part])
                yield ids, toks, vecs

    def live_chunk_ids(self, kb_id: str) -> np.ndarray:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(chunks.c.id).join(files, files.c.id == chunks.c.file_id)
                .where(chunks.c.kb_id == kb_id, files.c.status == "indexed")
            )
            return np.fromiter((r.id for r in rows), dtype=np.int64)

    # -- edits through the API (each in one transaction that moves the KB's revision) --
    def get_kb_by_id(self, kb_id: str) -> KnowledgeBase:
        with self.engine.connect() as conn:
            row = conn.execute(select(kbs).where(kbs.c.id == kb_id)).first()
            if row is None:
                raise NotFound(f"knowledge base {kb_id} does not exist", kb_id=kb_id)
            return _kb(row, self._counts(conn, row.id))

    def update_kb_info(self, kb_id: str, name: str | None = None, description: str | None = None) -> None:
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        with self.engine.begin() as conn:
            if name is not None:
                name = validate_kb_name(name)
                clash = conn.execute(select(kbs.c.id).where(kbs.c.name == name, kbs.c.id != kb_id)).first()
                if clash:
                    raise Conflict(f"knowledge base '{name}' already exists", name=name)
                values["name"] = name
            if values:
                conn.execute(update(kbs).where(kbs.c.id == kb_id).values(updated_at=now(), **values))

    def get_chunk(self, kb_id: str, chunk_id: int) -> Chunk:
        with self.engine.connect() as conn:
            row = conn.execute(select(chunks).where(chunks.c.id == chunk_id, chunks.c.kb_id == kb_id)).first()
        if row is None:
            raise NotFound(f"chunk {chunk_id} does not exist in this knowledge base", chunk_id=chunk_id)
        return _chunk(row)

    def update_chunk(
        self, kb_id: str, chunk_id: int, text: str, tokens: Sequence[str], embedding: bytes, meta: dict[str, Any]
    ) -> int:
        """Replace a chunk's text (with its tokens and embedding); returns the KB's new revision."""
        with self.engine.begin() as conn:
            row = conn.execute(select(chunks.c.file_id).where(chunks.c.id == chunk_id, chunks.c.kb_id == kb_id)).first()
            if row is None:
                raise NotFound(f"chunk {chunk_id} does not exist in this knowledge base", chunk_id=chunk_id)
            conn.execute(update(chunks).where(chunks.c.id == chunk_id).values(
                text=text, tokens=" ".join(tokens), embedding=embedding, meta=meta))
            if self.resident is not None:
                self.resident.write(conn, kb_id, [chunk_id], [{"tokens": " ".join(tokens), "embedding": embedding}])
            conn.execute(update(files).where(files.c.id == row.file_id).values(updated_at=now()))
            return self._bump(conn, kb_id)

    def delete_chunk(self, kb_id: str, chunk_id: int) -> int:
        """Remove one chunk; returns the KB's new revision."""
        with self.engine.begin() as conn:
            row = conn.execute(select(chunks.c.file_id).where(chunks.c.id == chunk_id, chunks.c.kb_id == kb_id)).first()
            if row is None:
                raise NotFound(f"chunk {chunk_id} does not exist in this knowledge base", chunk_id=chunk_id)
            self._unresident(conn, kb_id, [chunk_id])
            conn.execute(delete(chunks).where(chunks.c.id == chunk_id))
            conn.execute(update(files).where(files.c.id == row.file_id).values(
                chunks=files.c.chunks - 1, updated_at=now()))
            return self._bump(conn, kb_id)
