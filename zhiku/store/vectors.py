"""The dense vector index: FAISS, exact inner product over L2-normalised vectors,
keyed by chunk id. Derived from the database; persisted without pickle."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterable

import numpy as np


class VectorIndex:
    def __init__(self, dimensions: int) -> None:
        import faiss

        self._faiss = faiss
        self.dimensions = dimensions
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimensions))
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock:
            self._index.remove_ids(self._faiss.IDSelectorBatch(ids))
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: Iterable[int]) -> None:
        arr = np.fromiter(ids, dtype=np.int64)
        if arr.size:
            with self._lock:
                self._index.remove_ids(self._faiss.IDSelectorBatch(arr))

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (chunk id, cosine similarity), optionally only among ``allowed`` ids."""
        with self._lock:
            if self._index.ntotal == 0 or k <= 0:
                return []
            # one query's exact scan (100k x 384: ~10 ms) gains nothing from OpenMP threads, and on a
            # busy machine their spin-waits made it 3-5x slower; concurrent questions use the cores.
            # The setting is per calling thread in OpenMP, so it is made here, where searches run.
            self._faiss.omp_set_num_threads(1)
            q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
            k = min(k, int(self._index.ntotal))
            if allowed is not None:
                if len(allowed) == 0:
                    return []
                sel = self._faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
                params = self._faiss.SearchParameters(sel=sel)
                scores, ids = self._index.search(q, k, params=params)
            else:
                scores, ids = self._index.search(q, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunk ids (to score lexical-only candidates exactly)."""
        with self._lock:
            return np.vstack([self._index.reconstruct(int(i)) for i in ids]).astype(np.float32)

    def ids(self) -> np.ndarray:
        with self._lock:
            return self._faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with self._lock:
            self._faiss.write_index(self._index, str(tmp))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dimensions: int) -> "VectorIndex":
        import faiss

        self = cls(dimensions)
        index = faiss.read_index(str(path))
        if index.d != dimensions:
            raise ValueError(f"vector index at {path} has {index.d} dimensions, expected {dimensions}")
        self._index = index
        return self
