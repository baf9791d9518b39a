"""Where each knowledge base's indexes live: a per-KB property (issue 14 item 5, ``zhiku kb migrate``).

A KB's ``index_backend`` column names one of the *kinds* below, or is NULL: the backend the settings
name (``index.vector`` / ``index.lexical``), as every KB had before migrations existed. Its
``index_generation`` names the copy of its indexes that is current: empty for the copy a KB always had
(``HOME/indexes/<kb id>``), else ``<kb id>-<generation>`` (a folder of its own, and the Milvus scope
prefix), so a migration builds the next copy beside the one that answers and one catalog transaction
switches to it (``zhiku.store.migrate``).

A database-resident KB (``postgres``) is written by the catalog inside its transactions; which KBs are
is read in that transaction (``PerKBWriter``), so a KB moved by one process is written right by every
other process on the database at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from zhiku.errors import Conflict, InvalidInput
from zhiku.store.db import kbs
from zhiku.store.pg_indexes import ResidentWriter, drop_scope

if TYPE_CHECKING:
    from pathlib import Path

    from zhiku.config import IndexSettings
    from zhiku.store.indexes import IndexManager
    from zhiku.schema import KnowledgeBase

# kind -> (index.vector, index.lexical)
KINDS: dict[str, tuple[str, str]] = {
    "embedded": ("faiss", "bm25"), "postgres": ("pgvector", "pg_bm25"), "milvus": ("milvus", "milvus_bm25")}


def kind_of(settings: "IndexSettings") -> str:
    """The kind the settings' pair of backends is (``custom`` for a plugin's pair)."""
    for kind, pair in KINDS.items():
        if (settings.vector, settings.lexical) == pair:
            return kind
    return "custom"


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"unknown index backend '{kind}': choose {', '.join(KINDS)}", backend=kind)
    return kind


def kb_key(kb: "KnowledgeBase") -> str:
    """The name of the KB's current copy of its indexes: its folder under ``HOME/indexes``, its scope."""
    return key_of(kb.id, kb.index_generation or "")


def key_of(kb_id: str, generation: str) -> str:
    return f"{kb_id}-{generation}" if generation else kb_id


def discard_copy(manager: "IndexManager", d: "Path") -> None:
    """Delete one copy of a KB's indexes: its folder and what it keeps outside it (Milvus rows)."""
    import shutil

    manager.backends.discard(d)  # the configured backends (a plugin's pair included)
    for kind, (vector, _) in KINDS.items():
        if kind not in ("postgres", manager.default_kind) and (d / f"vectors.{vector}").exists():
            manager.for_kind(kind).discard(d)
    shutil.rmtree(d, ignore_errors=True)


def has_resident_tables(engine: Engine) -> bool:
    """Whether this database can hold resident indexes (PostgreSQL with migration 0003's tables)."""
    if engine.dialect.name != "postgresql":
        return False
    from sqlalchemy import inspect

    return bool(inspect(engine).has_table("chunk_vectors"))


class PerKBWriter(ResidentWriter):
    """The catalog's hook inside every transaction that changes a KB's chunks: it writes the
    resident indexes of the KBs that live in the database (their kind read in the transaction, after
    the writer took the KB's row), and refuses chunks whose vectors do not fit the KB's embedder (an
    ingestion that began before ``kb migrate --embedder`` switched the KB: the file fails, retry it)."""

    def __init__(self, default_kind: str, resident_tables: bool) -> None:
        super().__init__(vectors=True, lexical=True)
        self.default_kind, self.tables = default_kind, resident_tables

    def _kb(self, conn: Connection, kb_id: str) -> tuple[str, int]:
        row = conn.execute(select(kbs.c.index_backend, kbs.c.dimensions).where(kbs.c.id == kb_id)).first()
        if row is None:
            return self.default_kind, 0
        return row.index_backend or self.default_kind, int(row.dimensions)

    def write(self, conn: Connection, kb_id: str, ids: Sequence[int], rows: Sequence[dict[str, Any]]) -> None:
        if not ids:
            return
        kind, dimensions = self._kb(conn, kb_id)
        if dimensions and any(len(r["embedding"]) != dimensions * 4 for r in rows):
            raise Conflict("the knowledge base's embedder changed while this was being indexed "
                           "(zhiku kb migrate --embedder): add it again", kb_id=kb_id)
        if kind == "postgres" and self.tables:
            super().write(conn, kb_id, ids, rows)

    def remove(self, conn: Connection, kb_id: str, ids: Sequence[int]) -> None:
        if ids and self.tables and self._kb(conn, kb_id)[0] == "postgres":
            super().remove(conn, kb_id, ids)

    def drop(self, conn: Connection, kb_id: str) -> None:
        """The KB is deleted: its resident rows go, and those of a migration's unfinished copy."""
        if not self.tables:
            return
        drop_scope(conn, kb_id)
        from zhiku.store.db import kb_migrations

        unfinished = conn.execute(select(kb_migrations.c.generation).where(
            kb_migrations.c.kb_id == kb_id, kb_migrations.c.target == "postgres")).scalar()
        if unfinished:  # by its exact scope: a LIKE would scan every KB's postings
            drop_scope(conn, key_of(kb_id, unfinished))
