"""The segments of the BM25 index (zhiku.store.lexical): a batch of documents as a ``docs × terms``
CSC matrix of term frequencies (a column is a posting list) with the docs' ids, lengths and an alive
mask; the immutable state a reader takes; and how segments merge, dropping the dead."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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



def write_segment(gen_dir: Path, i: int, seg: Segment) -> None:
    """A segment's postings as an uncompressed scipy ``.npz`` (its arrays can be memory-mapped in place)
    and its docs as a numpy ``.npz``."""
    sparse.save_npz(gen_dir / f"seg-{i}.postings.npz", seg.postings, compressed=False)
    np.savez(gen_dir / f"seg-{i}.docs.npz", ids=seg.ids, lengths=seg.lengths, alive=seg.alive)


def read_segment(gen_dir: Path, i: int, n_terms: int) -> Segment:
    """Segment ``i`` of a saved generation, its postings memory-mapped (read-only: a segment is never
    changed in place); ``ValueError`` when the parts do not fit together."""
    with np.load(gen_dir / f"seg-{i}.docs.npz", allow_pickle=False) as docs:
        ids, lengths, alive = docs["ids"], docs["lengths"], docs["alive"].astype(bool)
    postings = mapped_csc(gen_dir / f"seg-{i}.postings.npz")
    if not (ids.shape == lengths.shape == alive.shape == (postings.shape[0],)) or postings.shape[1] > n_terms:
        raise ValueError(f"segment {i} does not match its documents or vocabulary")
    return Segment(ids.astype(np.int64), lengths.astype(np.int64), postings, alive)


def mapped_csc(path: Path) -> sparse.csc_matrix:
    """The CSC matrix scipy's ``save_npz(compressed=False)`` wrote, its arrays mapped from the file (a
    compressed one, which zhiku never writes, is read)."""
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        if any(info.compress_type != zipfile.ZIP_STORED for info in zf.infolist()):
            return sparse.load_npz(path).tocsc()
        arrays = {info.filename.removesuffix(".npy"): _mapped_member(path, fh, info) for info in zf.infolist()}
    kind = arrays["format"].item()
    if (kind.decode() if isinstance(kind, bytes) else str(kind)) != "csc":
        raise ValueError(f"{path.name}: postings are {kind!r}, not csc")
    shape = tuple(int(x) for x in arrays["shape"])
    return sparse.csc_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape, copy=False)


def _mapped_member(path: Path, fh: BinaryIO, info: zipfile.ZipInfo) -> np.ndarray:
    """One stored ``.npy`` member of a zip, as a read-only memory map (small or empty ones are read)."""
    fh.seek(info.header_offset)
    local = fh.read(30)  # the local file header: its name and extra field lengths end it
    if local[:4] != b"PK\x03\x04":
        raise ValueError(f"{path.name}: damaged zip member {info.filename}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    fh.seek(info.header_offset + 30 + name_len + extra_len)
    major, _ = np.lib.format.read_magic(fh)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(fh)
    if dtype.hasobject:
        raise ValueError(f"{path.name}: {info.filename} holds Python objects")
    count = int(np.prod(shape))
    if count * dtype.itemsize < 4096:
        return np.fromfile(fh, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
    return np.memmap(path, dtype=dtype, mode="r", offset=fh.tell(), shape=shape, order="F" if fortran else "C")
