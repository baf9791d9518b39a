"""``zhiku kb migrate``: move a knowledge base's indexes to another backend, or re-embed it with another
embedder, while its current copy keeps answering (issue 14 item 5).

1. ``begin`` records the migration in ``kb_migrations`` (target, embedder, a new *generation*), or finds the
   one a killed process left and resumes it; one runs per KB at a time (``Conflict`` otherwise).
2. ``copy`` builds the new copy of the indexes under the key ``<kb id>-<generation>`` (a folder of its
   own, a Milvus scope, a PostgreSQL scope) from the KB's chunks in batches, saving after each, so a
   rerun after a kill skips the chunks the copy holds already (``add`` replaces by id: nothing twice).
   When only the backend changes the vectors are the chunks' stored ones, not embedded again; with a new
   embedder every chunk's text is embedded through the embedding cache (committed batch by batch, so a
   rerun embeds nothing twice either).
3. ``switch``: the copy catches up with what changed meanwhile, then one transaction moves the KB's
   ``index_backend``, ``index_generation`` (and ``embedder``, ``dimensions`` and every chunk's vector when
   re-embedding) if, and only if, its revision is still the one the copy caught up with; else it catches
   up again. Searches until then read the old copy; a search that began before reads it to the end.
4. ``finish`` deletes the old copy (its folder, its Milvus or PostgreSQL rows).
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
from sqlalchemy import delete, insert, select, text, update

from zhiku.errors import Conflict, InvalidInput
from zhiku.schema import KnowledgeBase
from zhiku.store.db import chunks, files, kb_migrations, kbs
from zhiku.store.embedding_cache import CachedEmbedder, PassageEmbedder
from zhiku.store.kb_backends import check_kind, discard_copy, kb_key, key_of
from zhiku.store.pg_indexes import drop_scope
from zhiku.text.ids import new_id, now

if TYPE_CHECKING:
    from zhiku.store.index_protocols import LexicalIndex, VectorIndex
    from zhiku.store.indexes import Backends, IndexManager

BATCH = 256
STALE_S = 120.0  # a migration whose process wrote no progress for this long (or is gone) may be resumed
Progress = Callable[[int, int], None]  # (chunks copied, chunks in all)
# the resident index tables keyed by scope (kb_id), renamed at a switch; those a database lacks are skipped
RESIDENT_TABLES = ("chunk_vectors", "lexical_docs", "lexical_postings", "lexical_terms", "index_stats")


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(who: str) -> bool:
    host, _, pid = who.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's: only its silence tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def status(manager: "IndexManager", kb: KnowledgeBase) -> dict[str, Any] | None:
    """The KB's last migration as JSON-able values (None when it never had one)."""
    with manager.catalog.engine.connect() as conn:
        row = conn.execute(select(kb_migrations).where(kb_migrations.c.kb_id == kb.id)).first()
    if row is None:
        return None
    out = {c: getattr(row, c) for c in ("source", "target", "embedder", "dimensions", "status", "done", "total",
                                        "error")}
    out["running"] = _running(row)
    out["started_at"], out["updated_at"] = row.started_at.isoformat(), row.updated_at.isoformat()
    return out


def _running(row: Any) -> bool:
    if row.status not in ("copying", "switching"):
        return False
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=now().tzinfo)
    fresh = (now() - updated).total_seconds() < STALE_S
    return fresh and _alive(str((row.copied or {}).get("owner", "")))


def begin(manager: "IndexManager", kb: KnowledgeBase, target: str | None, embedder: str | None,
          dimensions: int | None) -> dict[str, Any]:
    """The migration to run for this request: a new one, or the interrupted one it resumes."""
    source = kb.index_backend or manager.default_kind
    target = check_kind(target) if target else source
    if not embedder or dimensions is None:
        embedder, dimensions = kb.embedder, kb.dimensions
    if target == source and embedder == kb.embedder:
        raise InvalidInput(f"knowledge base '{kb.name}' is already on {source} with embedder {embedder}: "
                           "nothing to migrate", kb=kb.name, backend=source)
    check_target(manager, target)
    with manager.catalog.engine.begin() as conn:
        row = conn.execute(select(kb_migrations).where(kb_migrations.c.kb_id == kb.id)).first()
        if row is not None and row.status in ("copying", "switching"):
            if _running(row):
                raise Conflict(f"knowledge base '{kb.name}' is being migrated already (to {row.target}, "
                               f"{row.done}/{row.total} chunks)", kb=kb.name)
            if (row.target, row.embedder, row.source) == (target, embedder, source):
                conn.execute(update(kb_migrations).where(kb_migrations.c.kb_id == kb.id).values(
                    copied={**(row.copied or {}), "owner": owner()}, updated_at=now(), error=None))
                return {"target": target, "embedder": embedder, "dimensions": row.dimensions, "source": source,
                        "generation": row.generation, "resumed": True}
            _drop_unfinished(manager, kb, row.target, row.generation)
        conn.execute(delete(kb_migrations).where(kb_migrations.c.kb_id == kb.id))
        generation = new_id()[:12]
        ts = now()
        conn.execute(insert(kb_migrations).values(
            kb_id=kb.id, source=source, target=target, embedder=embedder, dimensions=dimensions,
            generation=generation, status="copying", done=0, total=0, copied={"owner": owner()}, error=None,
            started_at=ts, updated_at=ts))
    return {"target": target, "embedder": embedder, "dimensions": dimensions, "source": source,
            "generation": generation, "resumed": False}


def check_target(manager: "IndexManager", target: str) -> None:
    """A readable line when the target backend cannot be used with these settings."""
    engine = manager.catalog.engine
    if target == "postgres":
        if engine.dialect.name != "postgresql":
            raise InvalidInput("cannot migrate to postgres: the metadata database is SQLite; set database_url to "
                               "a PostgreSQL database with pgvector (postgresql+psycopg://...) first",
                               backend=target)
        from zhiku.store.pg_schema import check_postgres

        check_postgres(engine, "kb migrate --to postgres")
    elif target == "milvus":
        try:
            import pymilvus  # noqa: F401
        except ImportError:
            raise InvalidInput("cannot migrate to milvus: pymilvus is not installed "
                               "(pip install 'zhiku[milvus]'; index.milvus_uri names the server)",
                               backend=target) from None


def _set(manager: "IndexManager", kb_id: str, **values: Any) -> None:
    with manager.catalog.engine.begin() as conn:
        conn.execute(update(kb_migrations).where(kb_migrations.c.kb_id == kb_id).values(updated_at=now(), **values))


def _open_copy(manager: "IndexManager", kb: KnowledgeBase, plan: dict[str, Any]) -> tuple["VectorIndex",
                                                                                         "LexicalIndex"]:
    backends, key = manager.for_kind(plan["target"]), key_of(kb.id, plan["generation"])
    dims = int(plan["dimensions"])
    if backends.resident:  # its own scope in the resident tables, renamed to the KB's at the switch
        from zhiku.store.pg_indexes import PgVectorIndex
        from zhiku.store.pg_lexical import PgLexicalIndex

        engine = manager.catalog.engine
        return PgVectorIndex.open(engine, key, dims), PgLexicalIndex.open(engine, key)
    d = manager.root / key
    try:
        return backends.open(d, dims)
    except Exception:  # nothing saved yet, or a save the kill cut short: start this copy again
        return backends.new(key, dims)


def _rows(manager: "IndexManager", kb_id: str, after: int = -1, only: set[int] | None = None
          ) -> Iterator[list[Any]]:
    """The KB's searchable chunks (id, text, tokens, embedding) in batches, by id (keyset pages)."""
    q = (select(chunks.c.id, chunks.c.text, chunks.c.tokens, chunks.c.embedding)
         .join(files, files.c.id == chunks.c.file_id)
         .where(chunks.c.kb_id == kb_id, files.c.status == "indexed").order_by(chunks.c.id).limit(BATCH))
    while True:
        with manager.catalog.engine.connect() as conn:
            part = conn.execute(q.where(chunks.c.id > after)).all()
        if not part:
            return
        after = int(part[-1].id)
        wanted = [r for r in part if only is None or int(r.id) in only]
        if wanted:
            yield wanted


def _add(rows: list[Any], vectors: "VectorIndex", lexical: "LexicalIndex", embed: CachedEmbedder | None) -> None:
    ids = np.array([r.id for r in rows], dtype=np.int64)
    if embed is not None:
        vecs, _ = embed.embed_passages([r.text for r in rows])
    else:
        vecs = np.vstack([np.frombuffer(r.embedding, dtype=np.float32) for r in rows])
    vectors.add(ids, vecs)
    lexical.add(ids.tolist(), [r.tokens.split(" ") if r.tokens else [] for r in rows])


def _save(backends: "Backends", d: Any, vectors: "VectorIndex", lexical: "LexicalIndex") -> None:
    if not backends.resident:  # progress that a rerun finds (no manifest: not a current copy yet)
        vectors.save(backends.vector_path(d))
        lexical.save(backends.lexical_path(d))


def copy(manager: "IndexManager", kb: KnowledgeBase, plan: dict[str, Any], embedder: PassageEmbedder | None,
         progress: Progress | None = None, cancelled: Callable[[], bool] | None = None
         ) -> tuple["VectorIndex", "LexicalIndex"]:
    """Build (or go on building) the new copy from the KB's chunks; returns its two indexes."""
    backends = manager.for_kind(plan["target"])
    d = manager.root / key_of(kb.id, plan["generation"])
    vectors, lexical = _open_copy(manager, kb, plan)
    have = set(np.asarray(vectors.ids()).tolist()) & set(np.asarray(lexical.ids()).tolist())
    total = len(manager.catalog.live_chunk_ids(kb.id))
    embed = CachedEmbedder(embedder, manager.catalog.engine) if embedder is not None else None
    done, saved, pause = len(have), time.monotonic(), 2.0
    _set(manager, kb.id, total=total, done=done)
    for rows in _rows(manager, kb.id):
        if cancelled is not None and cancelled():
            _save(backends, d, vectors, lexical)
            raise Conflict("the migration was stopped: run it again to go on")
        rows = [r for r in rows if int(r.id) not in have]
        if not rows:
            continue
        _add(rows, vectors, lexical, embed)
        done += len(rows)
        if time.monotonic() - saved > pause:
            began = time.monotonic()
            _save(backends, d, vectors, lexical)
            saved = time.monotonic()  # saving a large file copy whole takes long: at most a tenth of the time
            pause = max(2.0, 9 * (saved - began))
            _set(manager, kb.id, done=done, total=max(total, done))
        if progress is not None:
            progress(done, max(total, done))
    _save(backends, d, vectors, lexical)
    _set(manager, kb.id, done=done, total=max(total, done))
    return vectors, lexical


def switch(manager: "IndexManager", kb: KnowledgeBase, plan: dict[str, Any], vectors: "VectorIndex",
           lexical: "LexicalIndex", embedder: PassageEmbedder | None, attempts: int = 50) -> KnowledgeBase:
    """Catch the copy up and make it the KB's current one in one transaction; returns the KB as it is now."""
    from zhiku.store.indexes import KBIndexes

    catalog, backends = manager.catalog, manager.for_kind(plan["target"])
    key = key_of(kb.id, plan["generation"])
    embed = CachedEmbedder(embedder, catalog.engine) if embedder is not None else None
    _set(manager, kb.id, status="switching")
    for _ in range(attempts):
        revision = catalog.revision(kb.id)
        live = set(catalog.live_chunk_ids(kb.id).tolist())
        held = set(np.asarray(vectors.ids()).tolist()) & set(np.asarray(lexical.ids()).tolist())
        for rows in _rows(manager, kb.id, only=live - held):
            _add(rows, vectors, lexical, embed)
        gone = sorted((set(np.asarray(vectors.ids()).tolist()) | set(np.asarray(lexical.ids()).tolist())) - live)
        if gone:
            vectors.remove(gone)
            lexical.remove(gone)
        if not backends.resident:  # the manifest at the revision the copy holds: current once switched
            KBIndexes(kb, manager.root / key, vectors, lexical, revision, backends).save()
        with catalog.engine.begin() as conn:
            values: dict[str, Any] = {"index_backend": plan["target"], "index_generation": plan["generation"]}
            if embed is not None:
                values.update(embedder=plan["embedder"], dimensions=int(plan["dimensions"]))
            moved = conn.execute(update(kbs).where(kbs.c.id == kb.id, kbs.c.revision == revision).values(
                updated_at=now(), **values)).rowcount
            if moved != 1:
                conn.rollback()
                continue  # a file came or went meanwhile: catch up again
            if embed is not None:
                _store_vectors(conn, manager, kb.id, embed)
            if backends.resident:  # the copy's scope becomes the KB's (an old one there goes)
                drop_scope(conn, kb.id)
                for table in RESIDENT_TABLES:
                    if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is not None:
                        conn.execute(text(f"UPDATE {table} SET kb_id = :kb WHERE kb_id = :key"),
                                     {"kb": kb.id, "key": key})
            conn.execute(update(kb_migrations).where(kb_migrations.c.kb_id == kb.id).values(
                status="switched", done=len(live), total=len(live), updated_at=now()))
        return catalog.get_kb_by_id(kb.id)
    raise Conflict(f"knowledge base '{kb.name}' kept changing during the switch: run the migration again "
                   "(the copy is kept; it goes on from there)")


def _store_vectors(conn: Any, manager: "IndexManager", kb_id: str, embed: CachedEmbedder) -> None:
    """Every chunk of the KB gets its vector by the new embedder (from the cache the copy filled), so
    a rebuild, a new replica or a file edit later uses the new model's vectors."""
    rows = conn.execute(select(chunks.c.id, chunks.c.text).where(chunks.c.kb_id == kb_id)).all()
    for start in range(0, len(rows), 1000):
        part = rows[start:start + 1000]
        vecs, _ = embed.embed_passages([r.text for r in part])
        for r, v in zip(part, vecs):
            conn.execute(update(chunks).where(chunks.c.id == r.id).values(
                embedding=np.asarray(v, dtype=np.float32).tobytes()))


def finish(manager: "IndexManager", old: KnowledgeBase, new: KnowledgeBase) -> None:
    """Delete the old copy once the switch committed (a search still reading it read it whole)."""
    source = old.index_backend or manager.default_kind
    if manager.for_kind(source).resident:
        if not manager.for_kind(new.index_backend or manager.default_kind).resident:
            with manager.catalog.engine.begin() as conn:
                drop_scope(conn, old.id)
    else:
        drop_open(manager, old.id, manager.kb_directory(old))
        discard_copy(manager, manager.root / kb_key(old))
    _set(manager, old.id, status="done")


def _drop_unfinished(manager: "IndexManager", kb: KnowledgeBase, target: str, generation: str) -> None:
    """Another migration of the KB was left unfinished: its copy goes before a new one starts."""
    key = key_of(kb.id, generation)
    if manager.for_kind(target).resident:
        with manager.catalog.engine.begin() as conn:
            drop_scope(conn, key)
    else:
        discard_copy(manager, manager.root / key)


def drop_open(manager: "IndexManager", kb_id: str, directory: Any) -> None:
    """Forget the process's loaded old copy (a later flush must not write it back), not closing it: a
    search may still be reading it."""
    with manager._lock:
        idx = manager._open.get(kb_id)
        if idx is not None and idx.directory == directory:
            manager._open.pop(kb_id, None)

