"""The segments of the BM25 index (zhiku.store.lexical): a batch of documents as a ``docs × terms``
CSC matrix of term frequencies (a column is a posting list) with the docs' ids, lengths and an alive
mask; the immutable state a reader takes; and how segments merge, dropping the dead."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse


class Segment:
    """Immutable postings of a batch of documents; ``alive`` is replaced, never mutated."""

    __slots__ = ("alive", "ids", "lengths", "order", "postings", "sorted_ids")

    def __init__(self, ids: np.ndarray, lengths: np.ndarray, postings: sparse.csc_matrix, alive: np.ndarray):
        self.ids, self.lengths, self.postings, self.alive = ids, lengths, postings, alive
        self.order = np.argsort(ids, kind="stable")
        self.sorted_ids = ids[self.order]

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])

    def with_alive(self, alive: np.ndarray) -> Segment:
        seg = Segment.__new__(Segment)
        seg.ids, seg.lengths, seg.postings = self.ids, self.lengths, self.postings
        seg.order, seg.sorted_ids, seg.alive = self.order, self.sorted_ids, alive
        return seg

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions of the alive docs among ``ids`` (sorted, unique) in this segment."""
        if self.n == 0 or ids.size == 0:
            return np.empty(0, dtype=np.int64)
        pos = self.order[np.searchsorted(self.sorted_ids, ids[contains(self.sorted_ids, ids)])]
        return pos[self.alive[pos]]

    def live_postings(self, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indptr, row indices, tf) of the alive docs only, rows renumbered, ``width`` columns."""
        p = self.postings
        indptr, indices, data = p.indptr.astype(np.int64), p.indices, p.data
        if not self.alive.all():
            keep = self.alive[indices]
            dead_cols = np.searchsorted(indptr, np.flatnonzero(~keep), side="right") - 1
            counts = np.diff(indptr) - np.bincount(dead_cols, minlength=p.shape[1])
            indptr = np.concatenate(([0], np.cumsum(counts)))
            indices = (np.cumsum(self.alive, dtype=np.int32) - 1)[indices[keep]]
            data = data[keep]
        if width > p.shape[1]:
            indptr = np.concatenate((indptr, np.full(width - p.shape[1], indptr[-1])))
        return indptr, indices, data


@dataclass(frozen=True)
class State:
    segments: tuple[Segment, ...]
    vocab: dict[str, int]  # extended in place by the writer; readers ignore cols >= len(df)
    terms: list[str]
    df: np.ndarray
    n_live: int
    total_len: int


def columns(vocab: dict[str, int], terms: list[str], docs: Iterable[Sequence[str]]) -> Iterator[int]:
    """Column of every token, in order; new terms join the vocabulary."""
    get = vocab.get
    for toks in docs:
        for term in toks:
            col = get(term)
            if col is None:
                col = vocab[term] = len(terms)
                terms.append(term)
            yield col


def matched_weight(seg: Segment, known: list[tuple[int, float]], positions: np.ndarray) -> np.ndarray:
    """IDF weight of the query terms each doc (by position in ``seg``) contains."""
    p = seg.postings
    out = np.zeros(positions.size)
    for col, w in known:
        if col < p.shape[1] and p.indptr[col] < p.indptr[col + 1]:
            out += w * contains(p.indices[p.indptr[col] : p.indptr[col + 1]], positions)
    return out


def contains(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which ``values`` occur in the sorted array ``rows``."""
    idx = np.minimum(np.searchsorted(rows, values), rows.size - 1)
    return rows[idx] == values


def sorted_unique(a: np.ndarray) -> np.ndarray:
    a = a.ravel()
    return a if a.size < 2 or bool(np.all(a[1:] > a[:-1])) else np.unique(a)


def merge_segments(segments: Sequence[Segment], width: int) -> Segment:
    """One segment of the alive docs of ``segments``, in order."""
    parts = []
    for seg in segments:
        indptr, indices, data = seg.live_postings(width)
        small = indptr[-1] < np.iinfo(np.int32).max  # int32 everywhere keeps scipy on its fast path
        indptr = indptr.astype(np.int32 if small else np.int64)
        indices = indices.astype(np.int32 if small else np.int64, copy=False)
        parts.append(sparse.csc_matrix((data, indices, indptr), shape=(int(seg.alive.sum()), width)))
    postings = sparse.vstack(parts, format="csc")
    ids = np.concatenate([seg.ids[seg.alive] for seg in segments])
    lengths = np.concatenate([seg.lengths[seg.alive] for seg in segments])
    return Segment(ids, lengths, postings, np.ones(ids.size, dtype=bool))
