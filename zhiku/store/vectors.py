"""The dense vector index: FAISS, an exhaustive inner-product scan over L2-normalised vectors
stored as float16, keyed by chunk id. Derived from the database (which keeps the float32
vectors); persisted without pickle.

Half-precision storage halves the bytes a question scans and the memory the index holds
(100k x 384: 77 MB instead of 154) and changes no ranking that matters: a component of a unit
vector loses at most ~1/2000 of itself, so cosines move by ~1e-4 (measured on 100k clustered vectors: the
same top 10 as float32 for all 200 questions), while the scan is memory-bound and ~1.8x faster.
Every vector is still compared with the question; nothing is approximate in the neighbour sense."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from zhiku.store.locks import ReadWriteLock


class FaissVectorIndex:
    """The built-in ``vector_index`` backend ``faiss`` (see zhiku.store.index_protocols.VectorIndex)."""

    def __init__(self, dimensions: int) -> None:
        import faiss

        self._faiss = faiss
        self.dimensions = dimensions
        self._index = faiss.IndexIDMap2(self._storage(faiss, dimensions))
        self._lock = ReadWriteLock()  # questions scan at the same time; adding and removing is alone
        self.upgraded = False  # loaded from an older on-disk format: worth saving again

    @staticmethod
    def _storage(faiss: Any, dimensions: int) -> Any:
        return faiss.IndexScalarQuantizer(dimensions, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._lock.writing():
            self._index.remove_ids(self._faiss.IDSelectorBatch(ids))
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: Iterable[int]) -> None:
        arr = np.fromiter(ids, dtype=np.int64)
        if arr.size:
            with self._lock.writing():
                self._index.remove_ids(self._faiss.IDSelectorBatch(arr))

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (chunk id, cosine similarity), optionally only among ``allowed`` ids."""
        with self._lock.reading():
            if self._index.ntotal == 0 or k <= 0:
                return []
            # one question's scan (100k x 384 float16: ~6 ms) gains nothing from OpenMP threads, and on a
            # busy machine their spin-waits made it 3-5x slower; concurrent questions use the cores.
            # The setting is per calling thread in OpenMP, so it is made here, where searches run.
            self._faiss.omp_set_num_threads(1)
            q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
            k = min(k, int(self._index.ntotal))
            if allowed is not None:
                if len(allowed) == 0:
                    return []
                sel = self._faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
                params = self._faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]  # faiss's stubs omit the SWIG keyword
                scores, ids = self._index.search(q, k, params=params)
            else:
                scores, ids = self._index.search(q, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunk ids (to score lexical-only candidates like the scan does)."""
        with self._lock.reading():
            return np.vstack([self._index.reconstruct(int(i)) for i in ids]).astype(np.float32)

    def ids(self) -> np.ndarray:
        with self._lock.reading():
            return self._faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def close(self) -> None:
        """Nothing to release: the vectors live in this process's memory until it is collected."""

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a name of its own: another process (a server and a `zhiku worker` on one home) may save too
        tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        with self._lock.reading():
            self._faiss.write_index(self._index, str(tmp))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dimensions: int) -> "FaissVectorIndex":
        import faiss

        if not Path(path).is_file():
            raise FileNotFoundError(f"no vector index at {path}")
        self = cls(dimensions)
        index = faiss.read_index(str(path))
        if index.d != dimensions:
            raise ValueError(f"vector index at {path} has {index.d} dimensions, expected {dimensions}")
        if not isinstance(index, faiss.IndexIDMap2):  # what zhiku writes (read_index returns the concrete class)
            raise ValueError(f"vector index at {path} is a {type(index).__name__}, not an id-mapped index")
        if isinstance(faiss.downcast_index(index.index), faiss.IndexFlat):
            # written by a version that stored float32: move the vectors over (saved at the next flush)
            ids = faiss.vector_to_array(index.id_map).astype(np.int64)
            if len(ids):
                self._index.add_with_ids(index.index.reconstruct_n(0, index.ntotal), ids)
            self.upgraded = True
            return self
        self._index = index
        return self
