"""``numpy-exact``: a vector index that is one float32 matrix and an exact inner-product scan.

It honours zhiku's ``VectorIndex`` protocol (zhiku.store.index_protocols) and passes zhiku's
contract suite (zhiku.testing.contracts.VectorIndexContract):

- readers never lock: they take the current ``(ids, vectors)`` pair, which a writer replaces whole
  (copy on write), so a search sees a write entirely or not at all;
- ``save`` writes one ``.npz`` next to the target and renames it over (``os.replace``): a crash
  leaves the previous file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np


class NumpyExactIndex:
    upgraded = False

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self._state = (np.zeros(0, dtype=np.int64), np.zeros((0, dimensions), dtype=np.float32))
        self._write = threading.Lock()

    def __len__(self) -> int:
        return int(self._state[0].size)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size == 0:
            return
        vectors = np.asarray(vectors, dtype=np.float32).reshape(ids.size, self.dimensions)
        last = len(ids) - 1 - np.unique(ids[::-1], return_index=True)[1]  # the last copy of each id wins
        ids, vectors = ids[last], vectors[last]
        with self._write:
            old_ids, old_vecs = self._state
            keep = ~np.isin(old_ids, ids)
            self._state = (np.concatenate([old_ids[keep], ids]), np.concatenate([old_vecs[keep], vectors]))

    def remove(self, ids: Iterable[int]) -> None:
        gone = np.fromiter((int(i) for i in ids), dtype=np.int64)
        if gone.size == 0:
            return
        with self._write:
            old_ids, old_vecs = self._state
            keep = ~np.isin(old_ids, gone)
            self._state = (old_ids[keep], old_vecs[keep])

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        ids, vecs = self._state
        if allowed is not None:
            chosen = np.isin(ids, np.asarray(allowed, dtype=np.int64))
            ids, vecs = ids[chosen], vecs[chosen]
        if k <= 0 or ids.size == 0:
            return []
        scores = vecs @ np.asarray(query, dtype=np.float32).reshape(-1)
        k = min(k, ids.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((ids[top], -scores[top]))]
        return [(int(ids[i]), float(scores[i])) for i in top]

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        held, vecs = self._state
        order = {int(i): n for n, i in enumerate(held)}
        return np.vstack([vecs[order[int(i)]] for i in ids]).astype(np.float32)

    def ids(self) -> np.ndarray:
        return self._state[0].copy()

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        ids, vecs = self._state
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=ids, vectors=vecs)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, dimensions: int) -> "NumpyExactIndex":
        with np.load(Path(path), allow_pickle=False) as data:  # FileNotFoundError when never saved
            ids, vecs = data["ids"].astype(np.int64), data["vectors"].astype(np.float32)
        if vecs.shape[1:] != (dimensions,) or ids.shape != vecs.shape[:1]:
            raise ValueError(f"{path}: vectors of shape {vecs.shape}, expected (n, {dimensions})")
        index = cls(dimensions)
        index._state = (ids, vecs)
        return index

    def close(self) -> None:
        """Nothing to release."""
