"""The derived search indexes of each knowledge base (a vector index + a lexical index).

They are rebuilt from the database whenever they are missing, unreadable or
stale (their recorded revision differs from the KB's, or they were written by
another backend than the settings name), updated incrementally as files come and
go, and persisted atomically: the manifest holding the revision is replaced last,
so a crash mid-save reads as stale, never as current.

The manager talks only to the protocols of ``zhiku.store.index_protocols``; the
backends come from the plugin registry by the names in ``index.vector`` and
``index.lexical`` (built in: ``faiss`` and ``bm25``, registered below).

Database-resident backends (``pgvector`` and ``pg_bm25``, on PostgreSQL) are the other kind: the
catalog writes them in the transaction that changes the chunks, so for them the manager applies,
saves and rebuilds nothing on its own (``ResidentKBIndexes``); ``check`` compares ids in SQL and
``rebuild`` re-derives them from the chunks in one transaction (a repair, never needed after a crash).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Sequence, cast

import numpy as np

from zhiku.config import IndexSettings
from zhiku.errors import Conflict
from zhiku.schema import KnowledgeBase
from zhiku.store.catalog import Catalog
from zhiku.store.kb_backends import (KINDS, LEGACY, Backends, PerKBWriter, check_kind, copy_of, discard_copy,
                                     has_resident_tables, kb_key, kind_of)
from zhiku.store.locks import folder_lock
from zhiku.store.index_protocols import (
    LexicalIndex,
    VectorIndex,
    ResidentLexicalIndexType,
    ResidentVectorIndexType,
)

if TYPE_CHECKING:
    from zhiku.plugins import Registry

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


def register_backends(registry: "Registry") -> None:
    """The built-in index backends (imported on first use: FAISS and SciPy are heavy)."""
    registry.add("vector_index", "faiss", "zhiku.store.vectors:FaissVectorIndex")
    registry.add("lexical_index", "bm25", "zhiku.store.lexical:BM25Index")
    registry.add("vector_index", "pgvector", "zhiku.store.pg_indexes:PgVectorIndex")
    registry.add("lexical_index", "pg_bm25", "zhiku.store.pg_lexical:PgLexicalIndex")
    registry.add("vector_index", "milvus", "zhiku.store.milvus_indexes:MilvusVectorIndex")
    registry.add("lexical_index", "milvus_bm25", "zhiku.store.milvus_lexical:MilvusLexicalIndex")


class KBIndexes:
    """The vector and lexical index of one KB, at a known revision."""

    def __init__(self, kb: KnowledgeBase, directory: Path, vectors: VectorIndex, lexical: LexicalIndex, revision: int,
                 backends: Backends):
        self.kb_id = kb.id
        self.embedder = kb.embedder  # what its vectors were made by (a migration may change the KB's)
        self.directory = directory
        self.backends = backends
        self.vectors = vectors
        self.lexical = lexical
        self.revision = revision
        self.lock = threading.RLock()
        self.dirty = False

    def apply(
        self, added: np.ndarray, tokens: Sequence[Sequence[str]], vectors: np.ndarray,
        removed: Sequence[int], revision: int,
    ) -> None:
        with self.lock:
            if revision != self.revision + 1:
                # someone else changed the KB in between: we cannot know what, so rebuild
                self.revision = -1
                return
            if removed:
                self.vectors.remove(removed)
                self.lexical.remove(removed)
            if len(added):
                self.vectors.add(added, vectors)
                self.lexical.add(added.tolist(), tokens)
            self.revision = revision
            self.dirty = True

    def extend(self, added: np.ndarray, tokens: Sequence[Sequence[str]], vectors: np.ndarray) -> None:
        """More chunks of the change ``apply`` took last (a large file's, read back in batches after its
        commit), under the same lock hold; nothing when that change left the indexes to be rebuilt."""
        with self.lock:
            if self.revision == -1 or not len(added):
                return
            self.vectors.add(added, vectors)
            self.lexical.add(added.tolist(), tokens)
            self.dirty = True

    def save(self) -> None:
        # the set (vectors, lexical, manifest) is written under the KB folder's lock, exclusive across
        # processes: a load (shared) never pairs this revision's manifest with another's files. It is
        # `KB/.lock`, not the lexical index's own `KB/lexical/.lock`, so the lexical save nests safely.
        with self.lock, folder_lock(self.directory, exclusive=True):
            manifest = self.directory / MANIFEST
            manifest.unlink(missing_ok=True)  # stale until the new manifest lands
            self.vectors.save(self.backends.vector_path(self.directory))
            self.lexical.save(self.backends.lexical_path(self.directory))
            tmp = manifest.with_suffix(".tmp")
            tmp.write_text(json.dumps({"revision": self.revision, "chunks": len(self.vectors),
                                       "dimensions": self.vectors.dimensions, "vector": self.backends.vector_name,
                                       "lexical": self.backends.lexical_name}))
            os.replace(tmp, manifest)
            self.dirty = False

    def close(self) -> None:
        self.vectors.close()
        self.lexical.close()


class ResidentKBIndexes(KBIndexes):
    """A KB's indexes that live in the database: the catalog already wrote every change."""

    def apply(
        self, added: np.ndarray, tokens: Sequence[Sequence[str]], vectors: np.ndarray,
        removed: Sequence[int], revision: int,
    ) -> None:
        self.revision = revision

    def extend(self, added: np.ndarray, tokens: Sequence[Sequence[str]], vectors: np.ndarray) -> None:
        pass  # the catalog wrote them in the commit's transaction

    def save(self) -> None:
        self.dirty = False


class IndexManager:
    def __init__(self, catalog: Catalog, root: Path, settings: IndexSettings | None = None) -> None:
        """``settings`` (``index``) names the backends (default: faiss and bm25)."""
        self.catalog = catalog
        self.root = root
        self.backends = Backends(settings or IndexSettings(), root)
        self.default_kind = kind_of(self.backends.settings)
        self._kinds: dict[str, Backends] = {self.default_kind: self.backends}  # a KB's own (kb migrate)
        self._open: dict[str, KBIndexes] = {}
        self._lock = threading.Lock()
        self.resident = self.backends.resident
        if self.resident:
            from zhiku.store.pg_schema import check_postgres

            check_postgres(catalog.engine, f"index.vector '{self.backends.vector_name}'")
        # every process writes the resident KBs in its transactions, whichever the default (kb_backends)
        catalog.resident = PerKBWriter(self.default_kind, self.resident or has_resident_tables(catalog.engine))

    def for_kind(self, kind: str) -> Backends:
        """The backends of a kind (kb_backends.KINDS), with the settings' Milvus URI."""
        found = self._kinds.get(kind)
        if found is None:
            vector, lexical = KINDS[check_kind(kind)]
            found = Backends(self.backends.settings.model_copy(update={"vector": vector, "lexical": lexical}),
                             self.root)
            self._kinds[kind] = found
        return found

    def backends_for(self, kb: KnowledgeBase) -> Backends:
        return self.for_kind(kb.index_backend) if kb.index_backend else self.backends

    def kb_directory(self, kb: KnowledgeBase) -> Path:
        return self.root / kb_key(kb)

    def is_open(self, kb_id: str) -> bool:
        """Whether the KB's indexes are loaded in memory (a search will not load them)."""
        with self._lock:
            return kb_id in self._open

    def directory(self, kb_id: str) -> Path:
        return self.root / kb_id

    def get(self, kb: KnowledgeBase) -> KBIndexes:
        """The KB's indexes, current with the database (loaded, or rebuilt if stale).

        A record read before a migration switched the KB to another copy of its indexes gets the copy
        that is current now (``KBIndexes.embedder`` says which embedder its vectors are by): the old copy
        is deleted once the switch commits, and loading it again would race that delete (a search met
        ``FileNotFoundError``) or bring a deleted folder back by rebuilding it."""
        for _ in range(5):  # a KB's copy changes at a migration's switch only: a second pass is rare
            idx, fresh = self._get(kb)
            if idx is not None:
                return idx
            kb = fresh
        raise Conflict(f"knowledge base '{kb.name}' keeps moving to other indexes: try again", kb=kb.name)

    def _get(self, kb: KnowledgeBase) -> tuple[KBIndexes | None, KnowledgeBase]:
        """(the indexes, kb), or (None, the KB's record now) when ``kb`` names a copy no longer current."""
        if self.backends_for(kb).resident:
            _, copy = self.catalog.index_state(kb.id)
            if copy != copy_of(kb):
                return None, self.catalog.get_kb_by_id(kb.id)
            return self._resident(kb), kb
        with self._lock:
            idx = self._open.get(kb.id)
            if idx is not None and idx.directory == self.kb_directory(kb) and idx.backends is self.backends_for(kb):
                with idx.lock:  # a writer commits and applies under this lock: never half-seen
                    current, copy = self.catalog.index_state(kb.id)
                    if copy == copy_of(kb) and idx.revision == current:
                        return idx, kb
            else:
                current, copy = self.catalog.index_state(kb.id)
            if copy != copy_of(kb):
                return None, self.catalog.get_kb_by_id(kb.id)
            loaded = self._load(kb, current)
            if loaded is None:  # missing or stale; or deleted because a switch (another process's) just committed
                current, copy = self.catalog.index_state(kb.id)
                if copy != copy_of(kb):
                    return None, self.catalog.get_kb_by_id(kb.id)
                loaded = self.rebuild(kb, _locked=True)
            self._open[kb.id] = loaded
            return loaded, kb

    def _resident(self, kb: KnowledgeBase) -> KBIndexes:
        with self._lock:
            idx = self._open.get(kb.id)
            if idx is None or idx.vectors.dimensions != kb.dimensions or not isinstance(idx, ResidentKBIndexes):
                engine, backends = self.catalog.engine, self.backends_for(kb)
                vector = cast(ResidentVectorIndexType, backends.vector).open(engine, kb.id, kb.dimensions)
                lexical = cast(ResidentLexicalIndexType, backends.lexical).open(engine, kb.id)
                idx = ResidentKBIndexes(kb, self.kb_directory(kb), vector, lexical, kb.revision, backends)
                self._open[kb.id] = idx
            return idx

    def _load(self, kb: KnowledgeBase, current: int) -> KBIndexes | None:
        d = self.kb_directory(kb)
        with folder_lock(d, exclusive=False):  # not while another process writes the set
            return self._load_locked(kb, current, d)

    def _load_locked(self, kb: KnowledgeBase, current: int, d: Path) -> KBIndexes | None:
        try:
            manifest = json.loads((d / MANIFEST).read_text())
            if manifest.get("revision") != current or manifest.get("dimensions") != kb.dimensions:
                log.info("indexes of %s are stale (revision %s, database %s)", kb.name, manifest.get("revision"), current)
                return None
            backends = self.backends_for(kb)
            if not backends.written_by_us(manifest):
                log.info("indexes of %s were written by other backends (%s, %s): rebuilding", kb.name,
                         manifest.get("vector", LEGACY["vector"]), manifest.get("lexical", LEGACY["lexical"]))
                return None
            vectors, lexical = backends.open(d, kb.dimensions)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged index is rebuilt, never trusted
            log.warning("indexes of %s unreadable (%s); rebuilding", kb.name, exc)
            return None
        idx = KBIndexes(kb, d, vectors, lexical, current, backends)
        idx.dirty = vectors.upgraded
        return idx

    def rebuild(self, kb: KnowledgeBase, _locked: bool = False) -> KBIndexes:
        """Re-derive both indexes from the database and persist them."""
        backends = self.backends_for(kb)
        if backends.resident:
            from zhiku.store.pg_indexes import rebuild_scope

            rebuild_scope(self.catalog, kb.id)
            return self._resident(kb)
        revision = self.catalog.revision(kb.id)
        vectors, lexical = backends.new(kb_key(kb), kb.dimensions)
        for ids, toks, vecs in self.catalog.index_rows(kb.id):
            vectors.add(ids, vecs)
            lexical.add(ids.tolist(), toks)
        idx = KBIndexes(kb, self.kb_directory(kb), vectors, lexical, revision, backends)
        idx.save()
        if not _locked:
            with self._lock:
                self._open[kb.id] = idx  # the one it replaces may still serve a search: not closed
        log.info("rebuilt indexes of %s: %d chunks at revision %d", kb.name, len(vectors), revision)
        return idx

    def check(self, kb: KnowledgeBase) -> list[str]:
        """Differences between the persisted indexes and the database, as readable lines."""
        if self.backends_for(kb).resident:
            from zhiku.store.pg_indexes import check_scope

            return check_scope(self.catalog, kb.id)
        d = self.kb_directory(kb)
        with folder_lock(d, exclusive=False):  # the set as one process wrote it
            return self._check_locked(kb, d)

    def _check_locked(self, kb: KnowledgeBase, d: Path) -> list[str]:
        problems: list[str] = []
        current = self.catalog.revision(kb.id)
        try:
            manifest = json.loads((d / MANIFEST).read_text())
        except (FileNotFoundError, ValueError):
            if not len(self.catalog.live_chunk_ids(kb.id)):
                return []  # nothing indexed yet (a new KB, or only files that failed): nothing to miss
            return ["index manifest missing or unreadable: indexes must be rebuilt"]
        if manifest.get("revision") != current:
            problems.append(f"indexes are at revision {manifest.get('revision')}, database at {current}")
        backends = self.backends_for(kb)
        if not backends.written_by_us(manifest):
            return problems + [f"indexes were written by {manifest.get('vector', LEGACY['vector'])} and "
                               f"{manifest.get('lexical', LEGACY['lexical'])}, the settings name "
                               f"{backends.vector_name} and {backends.lexical_name}: they must be rebuilt"]
        try:
            vectors, lexical = backends.open(d, kb.dimensions)
        except Exception as exc:  # the library's own words (a C++ assertion) go to the log, not to the user
            log.info("indexes of %s unreadable: %s", kb.name, exc)
            return problems + ["the index files are damaged or unreadable: they must be rebuilt"]
        live = set(self.catalog.live_chunk_ids(kb.id).tolist())
        lex_ids = set(np.asarray(lexical.ids()).tolist())
        if len(vectors) != len(live):
            problems.append(f"vector index holds {len(vectors)} chunks, database {len(live)}")
        if lex_ids != live:
            problems.append(
                f"lexical index differs from database: {len(lex_ids - live)} extra, {len(live - lex_ids)} missing")
        vectors.close()
        lexical.close()
        return problems

    def forget(self, kb_id: str, delete_files: bool = False) -> None:
        with self._lock:
            idx = self._open.pop(kb_id, None)
        if idx is not None:
            idx.close()
        if delete_files:  # the KB's copies: its first folder and those migrations made (kb_backends)
            for d in [self.directory(kb_id), *self.root.glob(f"{kb_id}-*")]:
                discard_copy(self, d)

    def flush(self) -> None:
        with self._lock:
            for idx in self._open.values():
                if idx.dirty:
                    idx.save()

    def close(self) -> None:
        """Save what changed and release every open index (the app is shutting down)."""
        with self._lock:
            opened, self._open = list(self._open.values()), {}
        for idx in opened:
            if idx.dirty:
                idx.save()
            idx.close()
