"""Where each knowledge base's indexes live: a per-KB property (issue 14 item 5, ``zhiku kb migrate``).

A KB's ``index_backend`` column names one of the *kinds* below, or is NULL: the backend the settings
name (``index.vector`` / ``index.lexical``), as every KB had before migrations existed. Its
``index_generation`` names the copy of its indexes that is current: empty for the copy a KB always had
(``HOME/indexes/<kb id>``), else ``<kb id>-<generation>`` (a folder of its own, and the Milvus scope
prefix), so a migration builds the next copy beside the one that answers and one catalog transaction
switches to it (``zhiku.store.migrate``).

``Backends`` is a pair of index backends (the settings' or a kind's) and where each keeps its files in
a copy's folder.

A database-resident KB (``postgres``) is written by the catalog inside its transactions; which KBs are
is read in that transaction (``PerKBWriter``), so a KB moved by one process is written right by every
other process on the database at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence, cast

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from zhiku.config import IndexSettings
from zhiku.errors import ConfigError, Conflict, InvalidInput
from zhiku.store.db import kbs
from zhiku.store.index_protocols import (
    LexicalIndex,
    LexicalIndexType,
    VectorIndex,
    VectorIndexType,
    is_resident,
    lexical_index_type,
    vector_index_type,
)
from zhiku.store.pg_indexes import ResidentWriter, drop_scope

if TYPE_CHECKING:
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


def copy_of(kb: "KnowledgeBase") -> tuple[str | None, str, str, int]:
    """Which copy of its indexes a KB record names (as ``Catalog.index_state`` reads it)."""
    return kb.index_backend, kb.index_generation or "", kb.embedder, kb.dimensions


LEGACY = {"vector": "faiss", "lexical": "bm25"}  # what a manifest naming no backends was written by
FILE_BACKENDS = {"faiss", "bm25"}  # known to be file backends without loading the registry


class Backends:
    """The two index backends named by the settings, and where each keeps its files in a KB's folder."""

    def __init__(self, settings: IndexSettings, root: Path | None = None) -> None:
        """The names were checked when the settings were loaded; the backends are looked up on first
        use (``ConfigError`` naming the choices if a name is unknown), so an app that never opens an
        index never loads the plugin registry. A backend type with ``configure(settings, root)``
        (Milvus: its URI) is configured from the settings; ``root`` is where the indexes live."""
        self.vector_name, self.lexical_name = settings.vector, settings.lexical
        self.settings, self.root = settings, root

    def _configured(self, backend: object) -> object:
        configure = getattr(backend, "configure", None)
        return configure(self.settings, self.root) if configure is not None else backend

    @property
    def vector(self) -> VectorIndexType:
        return cast(VectorIndexType, self._configured(vector_index_type(self.vector_name)))

    @property
    def lexical(self) -> LexicalIndexType:
        return cast(LexicalIndexType, self._configured(lexical_index_type(self.lexical_name)))

    def new(self, kb_id: str, dimensions: int) -> tuple[VectorIndex, LexicalIndex]:
        """Empty indexes for a KB's rebuild (a backend with ``for_kb`` names them after the KB)."""
        vector, lexical = self.vector, self.lexical
        vector_for, lexical_for = getattr(vector, "for_kb", None), getattr(lexical, "for_kb", None)
        return (vector_for(kb_id, dimensions) if vector_for else vector(dimensions),
                lexical_for(kb_id) if lexical_for else lexical())

    def discard(self, directory: Path) -> None:
        """Delete what the KB's saved indexes hold outside its folder (a backend with ``discard``)."""
        if {self.vector_name, self.lexical_name} <= FILE_BACKENDS:
            return
        for backend, path in ((self.vector, self.vector_path(directory)), (self.lexical, self.lexical_path(directory))):
            discard = getattr(backend, "discard", None)
            if discard is not None:
                discard(path)

    def vector_path(self, directory: Path) -> Path:
        return directory / f"vectors.{self.vector_name}"

    def lexical_path(self, directory: Path) -> Path:
        # the built-in BM25 keeps the folder name it always had, so existing homes need no rebuild
        return directory / ("lexical" if self.lexical_name == "bm25" else f"lexical.{self.lexical_name}")

    @property
    def resident(self) -> bool:
        """Whether both indexes live in the database (``ConfigError`` when only one does)."""
        if {self.vector_name, self.lexical_name} <= FILE_BACKENDS:
            return False
        vector, lexical = is_resident(self.vector), is_resident(self.lexical)
        if vector != lexical:
            raise ConfigError(
                f"index.vector '{self.vector_name}' and index.lexical '{self.lexical_name}' do not go together: "
                "database-resident backends (pgvector, pg_bm25) are chosen as a pair",
                vector=self.vector_name, lexical=self.lexical_name)
        return vector

    def written_by_us(self, manifest: dict) -> bool:
        return (manifest.get("vector", LEGACY["vector"]) == self.vector_name
                and manifest.get("lexical", LEGACY["lexical"]) == self.lexical_name)

    def open(self, directory: Path, dimensions: int) -> tuple[VectorIndex, LexicalIndex]:
        return (self.vector.load(self.vector_path(directory), dimensions),
                self.lexical.load(self.lexical_path(directory)))


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
