"""The dense vector index: FAISS, an exhaustive inner-product scan over L2-normalised vectors
stored as float16, keyed by chunk id. Derived from the database (which keeps the float32
vectors); persisted without pickle.

Half-precision storage halves the bytes a question scans and the memory the index holds
(100k x 384: 77 MB instead of 154) and changes no ranking that matters: a component of a unit
vector loses at most ~1/2000 of itself, so cosines move by ~1e-4 (measured on 100k clustered vectors: the
same top 10 as float32 for all 200 questions), while the scan is memory-bound and ~1.8x faster.
Every vector is compared with the question; nothing is approximate in the neighbour sense.

Above ``index.approximate_above`` vectors (default 200,000: the exact scan then costs ~15 ms, at 1M
~80 ms) the same float16 vectors move into an inverted file (``zhiku.store.vectors_ivf``: recall and
latency at 1M in docs/benchmarks.md), and back into the exact form when a KB shrinks below half of
it. Both forms are saved with FAISS's own writer (no pickle) and told apart on load."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from zhiku.store import vectors_ivf as ivf
from zhiku.store.locks import ReadWriteLock

APPROXIMATE_ABOVE = 200_000  # the default of the setting index.approximate_above


class FaissVectorType:
    """``FaissVectorIndex`` as configured by the settings (``index.approximate_above``)."""

    def __init__(self, approximate_above: int = APPROXIMATE_ABOVE) -> None:
        self.approximate_above = approximate_above

    def __call__(self, dimensions: int) -> "FaissVectorIndex":
        return FaissVectorIndex(dimensions, self.approximate_above)

    def load(self, path: Path, dimensions: int) -> "FaissVectorIndex":
        return FaissVectorIndex.load(path, dimensions, self.approximate_above)


class FaissVectorIndex:
    """The built-in ``vector_index`` backend ``faiss`` (see zhiku.store.index_protocols.VectorIndex)."""

    def __init__(self, dimensions: int, approximate_above: int = APPROXIMATE_ABOVE) -> None:
        import faiss

        self._faiss = faiss
        self.dimensions = dimensions
        self.approximate_above = approximate_above
        self._index: Any = faiss.IndexIDMap2(self._storage(faiss, dimensions))
        self._held: np.ndarray | None = None  # sorted ids of the approximate form, made on demand
        self._mapped = False  # the exact form's codes are a read-only map of the saved file (see _own)
        self._lock = ReadWriteLock()  # questions scan at the same time; adding and removing is alone
        self.upgraded = False  # loaded from an older on-disk format: worth saving again

    @classmethod
    def configure(cls, settings: Any, root: Path | None = None) -> FaissVectorType:
        """The type the settings ask for (``IndexManager`` calls this on a backend type that has it)."""
        return FaissVectorType(int(getattr(settings, "approximate_above", APPROXIMATE_ABOVE)))

    @property
    def approximate(self) -> bool:
        """Whether the vectors are in the approximate form (an inverted file) now."""
        return ivf.is_ivf(self._faiss, self._index)

    def _exact_form(self) -> Any:
        return self._faiss.IndexIDMap2(self._storage(self._faiss, self.dimensions))

    def _fit_form(self) -> None:
        """Move the vectors into the form their count asks for (the write lock is held)."""
        n, before = int(self._index.ntotal), self._index
        self._fit_form_of(n)
        if self._index is not before:
            self._mapped = False  # the vectors were copied into a new index in memory

    def _fit_form_of(self, n: int) -> None:
        if not self.approximate and n > self.approximate_above:
            self._to_ivf()
        elif self.approximate and n < self.approximate_above // 2:
            self._index = ivf.moved(self._faiss, self._index, self._exact_form())
        elif self.approximate and ivf.needs_retrain(self._index):
            self._to_ivf()

    def _to_ivf(self) -> None:
        nlist, _ = ivf.plan(int(self._index.ntotal))
        sample = ivf.sample(self._faiss, self._index, nlist * ivf.TRAIN_POINTS_PER_LIST)
        target = ivf.trained(self._faiss, self.dimensions, sample, nlist)
        del sample
        self._index = ivf.moved(self._faiss, self._index, target)

    @staticmethod
    def _storage(faiss: Any, dimensions: int) -> Any:
        return faiss.IndexScalarQuantizer(dimensions, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        last = len(ids) - 1 - np.unique(ids[::-1], return_index=True)[1]  # within one call the last copy wins
        if len(last) < len(ids):
            ids, vectors = ids[np.sort(last)], vectors[np.sort(last)]
        with self._lock.writing():
            self._own()
            self._remove_locked(ids)
            if self.approximate:
                self._faiss.omp_set_num_threads(os.cpu_count() or 1)  # assigning to lists uses the cores
            self._index.add_with_ids(vectors, ids)
            self._fit_form()

    def _own(self) -> None:
        """Before the first write after a load: copy the mapped codes into memory (FAISS aborts the
        process when a mapped index is written to). Loading maps them so that start-up reads nothing."""
        if self._mapped:
            self._index = self._faiss.deserialize_index(self._faiss.serialize_index(self._index))
            self._mapped = False

    def _remove_locked(self, ids: np.ndarray) -> None:
        self._held = None
        if self.approximate:  # the IVF's id hashtable removes only by an explicit list of ids
            self._index.remove_ids(self._faiss.IDSelectorArray(ids))
        else:
            self._index.remove_ids(self._faiss.IDSelectorBatch(ids))

    def remove(self, ids: Iterable[int]) -> None:
        arr = np.unique(np.fromiter(ids, dtype=np.int64))
        if arr.size:
            with self._lock.writing():
                self._own()
                self._remove_locked(arr)
                self._fit_form()

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
            if allowed is not None and len(allowed) == 0:
                return []
            if self.approximate:
                return self._search_ivf(q, k, allowed)
            if allowed is not None:
                sel, _keep = ivf.selector(self._faiss, ivf.sorted_unique(allowed))
                params = self._faiss.SearchParameters(sel=sel)  # type: ignore[call-arg]  # faiss's stubs omit the SWIG keyword
                scores, ids = self._index.search(q, k, params=params)
            else:
                scores, ids = self._index.search(q, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def _search_ivf(self, q: np.ndarray, k: int, allowed: np.ndarray | None) -> list[tuple[int, float]]:
        """The approximate form's search (read lock held); a filter leaving few ids is answered exactly."""
        sel = None
        if allowed is not None:
            allowed = ivf.sorted_unique(allowed)
            if len(allowed) <= ivf.EXACT_ALLOWED:
                held = self._held_ids()
                pos = np.minimum(np.searchsorted(held, allowed), max(len(held) - 1, 0))
                return ivf.exact_among(self._index, q, k, allowed[held[pos] == allowed])
            sel, _keep = ivf.selector(self._faiss, allowed)
        params = ivf.search_params(self._faiss, self._index, None if allowed is None else len(allowed), sel)
        scores, ids = self._index.search(q, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def _held_ids(self) -> np.ndarray:
        """The sorted ids of the approximate form (kept until the next write; a race only recomputes)."""
        held = self._held
        if held is None:
            held = self._held = np.sort(ivf.ivf_ids(self._faiss, self._index))
        return held

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of these chunk ids (to score lexical-only candidates like the scan does)."""
        with self._lock.reading():  # one call for all of them (a call per id cost 4x as much)
            out: np.ndarray = self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))
            return out.astype(np.float32, copy=False)

    def ids(self) -> np.ndarray:
        with self._lock.reading():
            if self.approximate:
                return self._held_ids().copy()
            return ivf.exact_ids(self._faiss, self._index)

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
    def load(cls, path: Path, dimensions: int, approximate_above: int = APPROXIMATE_ABOVE) -> "FaissVectorIndex":
        import faiss

        if not Path(path).is_file():
            raise FileNotFoundError(f"no vector index at {path}")
        self = cls(dimensions, approximate_above)
        with open(path, "rb") as fh:
            exact_form = fh.read(4) == b"IxM2"  # an IndexIDMap2: its float16 codes are mapped, not read
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if exact_form else 0)
        if index.d != dimensions:
            raise ValueError(f"vector index at {path} has {index.d} dimensions, expected {dimensions}")
        if isinstance(index, faiss.IndexIVFScalarQuantizer):  # the approximate form
            if index.direct_map.type != faiss.DirectMap.Hashtable:  # type: ignore[attr-defined]
                raise ValueError(f"vector index at {path} is an inverted file without an id table")
            index.nprobe = ivf.probes(int(index.nlist))  # this version's choice, not the saved one
            self._index = index
            return self._refit()
        if not isinstance(index, faiss.IndexIDMap2):  # what zhiku writes (read_index returns the concrete class)
            raise ValueError(f"vector index at {path} is a {type(index).__name__}, not an id-mapped index")
        if isinstance(faiss.downcast_index(index.index), faiss.IndexFlat):
            # written by a version that stored float32: move the vectors over (saved at the next flush)
            ids = faiss.vector_to_array(index.id_map).astype(np.int64)
            if len(ids):
                self._index.add_with_ids(index.index.reconstruct_n(0, index.ntotal), ids)
            self.upgraded = True
            return self._refit()
        self._index, self._mapped = index, exact_form
        return self._refit()

    def _refit(self) -> "FaissVectorIndex":
        """After a load: the form the count and the setting ask for (changed: worth saving again)."""
        before = self._index
        with self._lock.writing():
            self._fit_form()
        if self._index is not before:
            self.upgraded = True
        return self
