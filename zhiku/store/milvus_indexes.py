"""Index backends on Milvus through pymilvus: ``milvus`` (dense, here) and ``milvus_bm25`` (lexical, in
zhiku.store.milvus_lexical; its names are re-exported here with the Milvus helpers tests use).

Milvus is not transactional with the metadata database, so these are *derived* indexes like faiss
and bm25: ``IndexManager`` applies each change as it commits it, records the KB revision in the
KB's manifest only after ``save`` (which flushes Milvus), and rebuilds from the database whenever
the manifest is missing or stale — after a crash or ``kill -9`` mid-ingestion, for example. What a
"saved index" is here: a small file naming the Milvus URI, collection and *scope* whose rows it is,
with the counts its one writer keeps (so no search or save scans Milvus with a filter). What both
indexes share (the scope, its file, the wait for their own writes) is in zhiku.store.milvus_scope.

Layout (docs/backends.md says why): one collection per embedder dimension for the vectors
(``zhiku_dense_<D>``) and one for the lexical documents (``zhiku_lexical``), each row tagged with
its scope in a VARCHAR *partition key* (``kb``); a KB is one scope, a rebuild writes a new scope
``<kb id>@<generation>`` and drops the KB's other generations once the new one is saved, so the
old copy answers until the switch. Primary keys are ``<scope>/<chunk id>``: ids are only unique
within a scope.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zhiku.store.milvus_collections import (
    LEXICAL, MAX_K, MIN_EF, all_ids, as_ids, client, close_client, count, default_uri, dense_collection, read_after,
    render, scope_filter, term_word,
)
from zhiku.store.milvus_lexical import MilvusLexicalIndex, MilvusLexicalType
from zhiku.store.milvus_scope import MARKER, Scoped, read_scope

if TYPE_CHECKING:
    from zhiku.config import IndexSettings

__all__ = ["LEXICAL", "MilvusLexicalIndex", "MilvusLexicalType", "MilvusVectorIndex", "MilvusVectorType", "client",
           "close_client", "term_word"]


class MilvusVectorIndex(Scoped):
    """The ``milvus`` vector index of one scope (see the module docstring)."""

    kind = "milvus"
    upgraded = False

    def __init__(self, uri: str, token: str, scope: str, dimensions: int, held: int | None = 0,
                 written: int = 0) -> None:
        """``held``: how many vectors the scope holds (saved with it; None: counted in Milvus)."""
        super().__init__(uri, token, scope, written)
        self.dimensions = int(dimensions)
        self.collection = dense_collection(self.client, uri, self.dimensions)
        self._lock = threading.Lock()
        self._held = held if held is not None else count(self.client, self.collection, "kb == {kb}",
                                                         {"kb": self.scope})

    @classmethod
    def configure(cls, settings: "IndexSettings", root: Path | None = None) -> "MilvusVectorType":
        return MilvusVectorType(settings.milvus_uri or default_uri(root), settings.milvus_token)

    def __len__(self) -> int:
        return self._held

    def _marker(self) -> dict[str, Any]:
        return {"pk": MARKER, "id": -1, "kb": MARKER, "vec": [0.0] * self.dimensions}

    def _present(self, ids: list[int]) -> int:
        """How many of ``ids`` the scope holds (primary-key reads: no filter scan)."""
        return len(self.client.get(self.collection, ids=[f"{self.scope}/{i}" for i in ids], output_fields=["id"],
                                   **read_after(self.written)))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not ids.size:
            return
        vectors = np.asarray(vectors, dtype=np.float32).reshape(ids.size, -1)
        rows = {int(i): v for i, v in zip(ids.tolist(), vectors)}  # the last copy of an id wins
        with self._lock:  # one writer at a time keeps the count right
            present = self._present(list(rows))
            write = self.client.upsert if present else self.client.insert  # insert: nothing to replace
            items = list(rows.items())
            for start in range(0, len(items), 5000):
                write(self.collection, [{"pk": f"{self.scope}/{i}", "id": i, "kb": self.scope, "vec": v.tolist()}
                                        for i, v in items[start:start + 5000]])
            self._held += len(rows) - present
            self._wrote()

    def remove(self, ids: Iterable[int]) -> None:
        gone = sorted(set(as_ids(ids)))
        if gone:
            with self._lock:
                present = self._present(gone)
                self.client.delete(self.collection, ids=[f"{self.scope}/{i}" for i in gone])
                self._held -= present
                self._deleted()

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        if k <= 0 or (allowed is not None and not len(allowed)):
            return []
        template, params = scope_filter(allowed)
        found = self.client.search(
            self.collection, data=[np.asarray(query, dtype=np.float32).ravel().tolist()], anns_field="vec",
            limit=min(int(k), MAX_K), filter=render(template, {"kb": self.scope, **params}), output_fields=["id"],
            search_params={"metric_type": "IP", "params": {"ef": min(MAX_K, max(MIN_EF, 4 * int(k)))}},
            **read_after(self.written))
        hits = [(int(h["entity"]["id"]), float(h["distance"])) for h in found[0]]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        out = np.zeros((len(ids), self.dimensions), dtype=np.float32)
        if not ids:
            return out
        rows = self.client.get(self.collection, ids=[f"{self.scope}/{int(i)}" for i in ids],
                               output_fields=["id", "vec"], **read_after(self.written))
        found = {int(r["id"]): np.asarray(r["vec"], dtype=np.float32) for r in rows}
        for n, i in enumerate(ids):
            if int(i) in found:
                out[n] = found[int(i)]
        return out

    def ids(self) -> np.ndarray:
        return all_ids(self.client, self.collection, "kb == {kb}", {"kb": self.scope})

    def save(self, path: Path) -> None:
        self._record(path, dimensions=self.dimensions, held=self._held)


class MilvusVectorType:
    """``MilvusVectorIndex`` on one Milvus, shaped as a ``VectorIndexType`` (each new index: a new scope)."""

    def __init__(self, uri: str, token: str = "") -> None:
        self.uri, self.token = uri, token

    def __call__(self, dimensions: int) -> MilvusVectorIndex:
        return MilvusVectorIndex(self.uri, self.token, f"t-{uuid.uuid4().hex}", dimensions)

    def for_kb(self, kb_id: str, dimensions: int) -> MilvusVectorIndex:
        """A new empty generation of a KB's index (the others are dropped when it is saved)."""
        return MilvusVectorIndex(self.uri, self.token, f"{kb_id}@{uuid.uuid4().hex[:12]}", dimensions)

    def load(self, path: Path, dimensions: int) -> MilvusVectorIndex:
        data = read_scope(path, "milvus")
        if data.get("uri") != self.uri:
            raise ValueError(f"{path} names another Milvus ({data.get('uri')}) than index.milvus_uri")
        held = data.get("held")
        return MilvusVectorIndex(self.uri, self.token, data["scope"], dimensions, None if held is None else int(held),
                                 written=int(data.get("written") or 0))

    def discard(self, path: Path) -> None:
        """Delete the rows of the index saved at ``path`` (its KB is deleted); nothing if none was."""
        try:
            data = read_scope(path, "milvus")
        except (OSError, ValueError):
            return
        if data.get("uri") == self.uri:
            MilvusVectorIndex(self.uri, self.token, data["scope"], int(data["dimensions"]), held=0).drop()
