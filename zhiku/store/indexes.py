"""The derived search indexes of each knowledge base (vectors + BM25).

They are rebuilt from the database whenever they are missing, unreadable or
stale (their recorded revision differs from the KB's), updated incrementally as
files come and go, and persisted atomically: the manifest holding the revision
is replaced last, so a crash mid-save reads as stale, never as current.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from zhiku.schema import KnowledgeBase
from zhiku.store.catalog import Catalog
from zhiku.store.lexical import LexicalIndex
from zhiku.store.vectors import VectorIndex

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


class KBIndexes:
    """The vector and lexical index of one KB, at a known revision."""

    def __init__(self, kb: KnowledgeBase, directory: Path, vectors: VectorIndex, lexical: LexicalIndex, revision: int):
        self.kb_id = kb.id
        self.directory = directory
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

    def save(self) -> None:
        with self.lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            manifest = self.directory / MANIFEST
            manifest.unlink(missing_ok=True)  # stale until the new manifest lands
            self.vectors.save(self.directory / "vectors.faiss")
            self.lexical.save(self.directory / "lexical")
            tmp = manifest.with_suffix(".tmp")
            tmp.write_text(json.dumps({"revision": self.revision, "chunks": len(self.vectors),
                                       "dimensions": self.vectors.dimensions}))
            os.replace(tmp, manifest)
            self.dirty = False


class IndexManager:
    def __init__(self, catalog: Catalog, root: Path) -> None:
        self.catalog = catalog
        self.root = root
        self._open: dict[str, KBIndexes] = {}
        self._lock = threading.Lock()

    def is_open(self, kb_id: str) -> bool:
        """Whether the KB's indexes are loaded in memory (a search will not load them)."""
        with self._lock:
            return kb_id in self._open

    def directory(self, kb_id: str) -> Path:
        return self.root / kb_id

    def get(self, kb: KnowledgeBase) -> KBIndexes:
        """The KB's indexes, current with the database (loaded, or rebuilt if stale)."""
        with self._lock:
            idx = self._open.get(kb.id)
            if idx is not None:
                with idx.lock:  # a writer commits and applies under this lock: never half-seen
                    if idx.revision == self.catalog.revision(kb.id):
                        return idx
            current = self.catalog.revision(kb.id)
            idx = self._load(kb, current) or self.rebuild(kb, _locked=True)
            self._open[kb.id] = idx
            return idx

    def _load(self, kb: KnowledgeBase, current: int) -> KBIndexes | None:
        d = self.directory(kb.id)
        try:
            manifest = json.loads((d / MANIFEST).read_text())
            if manifest.get("revision") != current or manifest.get("dimensions") != kb.dimensions:
                log.info("indexes of %s are stale (revision %s, database %s)", kb.name, manifest.get("revision"), current)
                return None
            vectors = VectorIndex.load(d / "vectors.faiss", kb.dimensions)
            lexical = LexicalIndex.load(d / "lexical")
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged index is rebuilt, never trusted
            log.warning("indexes of %s unreadable (%s); rebuilding", kb.name, exc)
            return None
        idx = KBIndexes(kb, d, vectors, lexical, current)
        idx.dirty = vectors.upgraded
        return idx

    def rebuild(self, kb: KnowledgeBase, _locked: bool = False) -> KBIndexes:
        """Re-derive both indexes from the database and persist them."""
        revision = self.catalog.revision(kb.id)
        vectors = VectorIndex(kb.dimensions)
        lexical = LexicalIndex()
        for ids, toks, vecs in self.catalog.index_rows(kb.id):
            vectors.add(ids, vecs)
            lexical.add(ids.tolist(), toks)
        idx = KBIndexes(kb, self.directory(kb.id), vectors, lexical, revision)
        idx.save()
        if not _locked:
            with self._lock:
                self._open[kb.id] = idx
        log.info("rebuilt indexes of %s: %d chunks at revision %d", kb.name, len(vectors), revision)
        return idx

    def check(self, kb: KnowledgeBase) -> list[str]:
        """Differences between the persisted indexes and the database, as readable lines."""
        problems: list[str] = []
        d = self.directory(kb.id)
        current = self.catalog.revision(kb.id)
        try:
            manifest = json.loads((d / MANIFEST).read_text())
        except (FileNotFoundError, ValueError):
            if not len(self.catalog.live_chunk_ids(kb.id)):
                return []  # nothing indexed yet (a new KB, or only files that failed): nothing to miss
            return ["index manifest missing or unreadable: indexes must be rebuilt"]
        if manifest.get("revision") != current:
            problems.append(f"indexes are at revision {manifest.get('revision')}, database at {current}")
        try:
            vectors = VectorIndex.load(d / "vectors.faiss", kb.dimensions)
            lexical = LexicalIndex.load(d / "lexical")
        except Exception as exc:
            return problems + [f"indexes unreadable: {exc}"]
        live = set(self.catalog.live_chunk_ids(kb.id).tolist())
        lex_ids = set(np.asarray(lexical.ids()).tolist())
        if len(vectors) != len(live):
            problems.append(f"vector index holds {len(vectors)} chunks, database {len(live)}")
        if lex_ids != live:
            problems.append(
                f"lexical index differs from database: {len(lex_ids - live)} extra, {len(live - lex_ids)} missing")
        return problems

    def forget(self, kb_id: str, delete_files: bool = False) -> None:
        with self._lock:
            self._open.pop(kb_id, None)
        if delete_files:
            shutil.rmtree(self.directory(kb_id), ignore_errors=True)

    def flush(self) -> None:
        with self._lock:
            for idx in self._open.values():
                if idx.dirty:
                    idx.save()
