"""A persisted, incremental BM25 index over integer chunk ids.

Why not plain bm25s: it bakes IDF into precomputed scores for a fixed corpus,
so every added file would rebuild the whole index (Langchain-Chatchat rebuilt
it on every *query*). Here postings are term frequencies only; IDF and the
average document length are computed at query time from live counts, so scores
are always exact Okapi BM25 (Lucene IDF, ``ln(1 + (N - df + .5) / (df + .5))``)
over the documents alive now, and adding a file costs time in its size only.

Layout: a list of segments, each a ``docs × terms`` CSC matrix of term
frequencies (a column is a posting list) plus the segment's ids, lengths and an
alive mask. ``add`` appends a small segment; ``remove`` flips alive bits
(tombstones). Small segments are merged when there are too many, and
everything is merged into the base segment, dropping tombstones and unused
terms, when the deltas or the dead grow past a quarter of the base.

Search scores the query terms' posting lists, rarest first, into a dense
per-segment array until MaxScore's bound (a term adds < ``idf * (k1 + 1)``) proves
that a doc matching none of them cannot reach the top k; the commoner terms'
lists are then only looked up for those candidates, and candidates that cannot
reach the k-th best any more are dropped. Segments are searched base first, each
later one cut at the k-th best score found so far. The top k (ids, scores,
coverage) is exactly the one of scoring every list in full (tested against it).

Concurrency: readers take the current immutable ``State`` snapshot and never
lock; one writer at a time (a lock) builds a new snapshot and swaps it in.

On disk: ``manifest.json`` names a generation folder holding ``vocab.json`` and
per segment ``seg-N.postings.npz`` (scipy, uncompressed: its arrays are memory-
mapped when loaded, paged in as questions touch them) and ``seg-N.docs.npz``
(numpy, no pickle). A save
writes a new generation, replaces the manifest (``os.replace``), then deletes
older generations: a reader sees the old index or the new one, never half.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from zhiku.errors import InvalidInput, LoadError
from zhiku.store.locks import folder_lock
from zhiku.store.lexical_segments import (
    Segment,
    State,
    columns,
    matched_weight,
    merge_segments,
    read_segment,
    sorted_unique,
    write_segment,
)

log = logging.getLogger(__name__)

FORMAT = "zhiku-bm25"
VERSION = 1
MAX_DELTAS = 4  # small segments before they are merged into one delta
MERGE_FRACTION = 0.25  # deltas (or dead docs) past this share of the base → full merge
MIN_FULL_MERGE = 2048  # below this many docs a full merge is cheap: do it whenever deltas pile up
FEW_ALLOWED = 64  # an allowed set under 1/64 of a segment is scored by lookups, not by scattering
MIN_PRUNE = 8192  # segments smaller than this are scored plainly (pruning costs more than it saves)
PRUNE_CHECK = 32  # MaxScore looks for its threshold while the lists left hold over 1/32 of the segment's docs


class BM25Index:
    """Okapi BM25 over integer ids, the built-in ``lexical_index`` backend ``bm25``; see the module
    docstring for the design and zhiku.store.index_protocols.LexicalIndex for the contract."""

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = float(k1)
        self.b = float(b)
        self.meta: dict[str, Any] = {}
        self._state = State((), {}, [], np.zeros(0, dtype=np.int64), 0, 0)
        self._write = threading.Lock()
        self._saving = threading.Lock()

    # ---- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._state.n_live

    def __contains__(self, chunk_id: object) -> bool:
        if not isinstance(chunk_id, (int, np.integer)):
            return False
        probe = np.array([chunk_id], dtype=np.int64)
        return any(seg.positions(probe).size for seg in self._state.segments)

    def ids(self) -> np.ndarray:
        """Live ids, sorted."""
        parts = [seg.ids[seg.alive] for seg in self._state.segments]
        return np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)

    def _idf(self, state: State, terms: Sequence[str]) -> tuple[list[tuple[int, float]], float]:
        """(col, idf) of the query's unique terms present in live docs, and the total IDF weight."""
        n = state.n_live
        known: list[tuple[int, float]] = []
        total = 0.0
        width = state.df.shape[0]
        for term in dict.fromkeys(terms):
            col = state.vocab.get(term)
            df = int(state.df[col]) if col is not None and col < width else 0
            w = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            total += w
            if col is not None and df > 0:
                known.append((col, w))
        return known, total

    def query_weight(self, query_tokens: Sequence[str]) -> float:
        """Total IDF weight of the query's unique terms (unknown terms weigh as df = 0)."""
        return self._idf(self._state, query_tokens)[1]

    def search(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float, float]]:
        """Top ``k`` live docs as (id, bm25, coverage), best first; ties broken by id.

        Each unique query term counts once. ``coverage`` is the share of the query's
        total IDF weight whose terms occur in the doc. Only docs sharing at least one
        term are returned. ``allowed`` restricts the search to those ids.
        """
        state = self._state
        if k <= 0 or state.n_live == 0:
            return []
        known, total = self._idf(state, query_tokens)
        if not known:
            return []
        # rarest first (by live df, the same in every segment): sums run in one order however
        # the docs are spread over segments, so scores are bit-identical to a fresh build
        known.sort(key=lambda t: -t[1])
        allowed_ids = None if allowed is None else sorted_unique(np.asarray(allowed, dtype=np.int64))
        avgdl = state.total_len / state.n_live if state.total_len else 1.0
        parts = []
        floor = -math.inf  # the k-th best score found so far: later segments need not return less
        for seg in state.segments:  # the base (largest) first, so the floor it sets prunes the deltas
            hit, sc = self._search_segment(seg, known, avgdl, k, allowed_ids, floor)
            if hit.size:
                parts.append((seg, hit, sc))
                if len(state.segments) > 1:
                    floor = max(floor, kth_largest(np.concatenate([p[2] for p in parts]), k))
        if not parts:
            return []
        ids = np.concatenate([seg.ids[hit] for seg, hit, _ in parts])
        scores = np.concatenate([sc for _, _, sc in parts])
        where = np.concatenate([np.full(hit.size, i) for i, (_, hit, _) in enumerate(parts)])
        pos = np.concatenate([hit for _, hit, _ in parts])
        top = np.lexsort((ids, -scores))[:k]
        matched = np.zeros(top.size)
        for i, (seg, _, _) in enumerate(parts):  # coverage only for the docs returned
            mine = np.flatnonzero(where[top] == i)
            if mine.size:
                matched[mine] = matched_weight(seg, known, pos[top[mine]])
        return [
            (int(ids[j]), float(scores[j]), min(1.0, float(m / total))) for j, m in zip(top, matched)
        ]

    def _search_segment(
        self, seg: Segment, known: list[tuple[int, float]], avgdl: float, k: int, allowed: np.ndarray | None,
        floor: float = -math.inf,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions and scores of this segment's top ``k`` (ties at the k-th score kept), leaving out
        docs that provably score below ``floor`` (the k-th best score other segments already have)."""
        k1, b = self.k1, self.b
        width = seg.postings.shape[1]
        indptr, indices, data = seg.postings.indptr, seg.postings.indices, seg.postings.data
        terms = [(w, int(indptr[col]), int(indptr[col + 1])) for col, w in known if col < width]
        terms = [t for t in terms if t[1] < t[2]]
        if not terms:
            return np.empty(0, dtype=np.int64), np.empty(0)
        c0, c1, kw = k1 * (1.0 - b), k1 * b / avgdl, k1 + 1.0
        ok = seg.alive
        if allowed is not None:
            chosen = seg.positions(allowed)
            if chosen.size * FEW_ALLOWED < seg.n:
                return self._score_positions(seg, terms, chosen, (c0, c1, kw), k)
            ok = np.zeros(seg.n, dtype=bool)
            ok[chosen] = True
        scores = np.zeros(seg.n)

        def scatter(w: float, lo: int, hi: int) -> None:
            pos, tf = indices[lo:hi], data[lo:hi]
            scores[pos] += tf / (tf + (c0 + c1 * seg.lengths[pos])) * (w * kw)  # float64 throughout

        if seg.n < MIN_PRUNE:
            for w, lo, hi in terms:
                scatter(w, lo, hi)
            return top_of(np.flatnonzero((scores > 0) & ok), scores, k, floor)
        # MaxScore: a term adds less than idf * (k1 + 1) to any doc, so once the k-th best score of the
        # docs matching the rarer terms (a lower bound of the final k-th) exceeds what the remaining,
        # commoner terms can add together, a doc matching none of the rarer terms cannot enter the top
        # k: the remaining terms are then looked up for those candidates only, which are dropped as
        # soon as even the remaining terms cannot lift them to the k-th best. Rarest first, as in a
        # plain scatter, so every score is the same sum in the same order. (A tighter bound, each
        # list's real largest tf / (tf + norm) noted when it was scattered, measured no faster at 1M.)
        reach = np.cumsum([kw * w for w, _, _ in terms][::-1])[::-1] * (1.0 + 1e-9)  # terms[j:] can add
        left = np.cumsum([hi - lo for _, lo, hi in terms][::-1])[::-1]  # postings of terms[j:]
        seen: list[np.ndarray] = []
        for j, (w, lo, hi) in enumerate(terms):
            # a look pays when much is left to scatter, and can succeed only if the lists scored so far
            # (or the floor) can outweigh the rest
            if seen and left[j] * PRUNE_CHECK >= seg.n and max(floor, reach[0] - reach[j]) > reach[j]:
                cand = union(seen)  # sorted all again: numpy's SIMD sort beat merging each new list in
                cand = cand[ok[cand]]
                part = scores[cand]
                theta = max(floor, kth_largest(part, k))
                if theta > reach[j]:
                    return self._finish(seg, terms[j:], reach[j:], cand, part, theta, (c0, c1, kw), k)
            scatter(w, lo, hi)
            seen.append(indices[lo:hi])
        # every list scattered: the k-th best among the docs of the rarest lists bounds the top k
        sample = union(seen[: max(1, int(np.searchsorted(np.cumsum([s.size for s in seen]), 4 * k)) + 1)])
        sample = sample[ok[sample]]
        theta = max(floor, kth_largest(scores[sample], k))
        if theta > 0:
            return top_of(np.flatnonzero((scores >= theta) & ok), scores, k, floor)
        return top_of(np.flatnonzero((scores > 0) & ok), scores, k, floor)

    @staticmethod
    def _finish(
        seg: Segment, terms: list[tuple[float, int, int]], reach: np.ndarray, cand: np.ndarray, part: np.ndarray,
        theta: float, consts: tuple[float, float, float], k: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """MaxScore's second half: the remaining ``terms`` added to the candidates ``cand`` (sorted
        positions, partial scores ``part``) only, pruning those that cannot reach ``theta``."""
        c0, c1, kw = consts
        indices, data = seg.postings.indices, seg.postings.data
        for j, (w, lo, hi) in enumerate(terms):
            keep = part + reach[j] >= theta
            if not keep.all():
                cand, part = cand[keep], part[keep]
            if cand.size == 0:
                break
            rows = indices[lo:hi]
            if cand.size <= rows.size:
                at = np.minimum(np.searchsorted(rows, cand), rows.size - 1)
                here = np.flatnonzero(rows[at] == cand)
                src = lo + at[here]
            else:  # a long candidate list: look the rows up in it instead
                at = np.minimum(np.searchsorted(cand, rows), cand.size - 1)
                hit = np.flatnonzero(cand[at] == rows)
                here, src = at[hit], lo + hit
            tf = data[src]
            part[here] += tf / (tf + (c0 + c1 * seg.lengths[cand[here]])) * (w * kw)
            theta = max(theta, kth_largest(part, k))
        keep = part >= theta
        return cand[keep], part[keep]

    @staticmethod
    def _score_positions(
        seg: Segment, terms: list[tuple[float, int, int]], chosen: np.ndarray, consts: tuple[float, float, float],
        k: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` among a few chosen positions, each looked up in the posting lists instead of
        scattering whole lists (the coverage of five hits, a filter to one file): the same sums in the
        same term order as the scatter, so the same scores."""
        c0, c1, kw = consts
        indices, data = seg.postings.indices, seg.postings.data
        chosen = np.sort(chosen)
        scores = np.zeros(chosen.size)
        for w, lo, hi in terms:
            rows = indices[lo:hi]
            at = np.minimum(np.searchsorted(rows, chosen), rows.size - 1)
            here = rows[at] == chosen
            tf = data[lo + at[here]]
            scores[here] += tf / (tf + (c0 + c1 * seg.lengths[chosen[here]])) * (w * kw)
        hit = np.flatnonzero(scores > 0)
        if hit.size > k:
            top = scores[hit]
            hit = hit[top >= np.partition(top, hit.size - k)[hit.size - k]]
        return chosen[hit], scores[hit]

    # ---- writing -------------------------------------------------------------------------
    def add(self, ids: Sequence[int], tokens: Sequence[Sequence[str]]) -> None:
        """Index docs; an id already present is replaced. Within one call the last copy wins."""
        if len(ids) != len(tokens):
            raise InvalidInput(f"add: {len(ids)} ids but {len(tokens)} token lists")
        batch = dict(zip((int(i) for i in ids), tokens))
        if not batch:
            return
        with self._write:
            state = self._remove_locked(self._state, np.fromiter(batch, dtype=np.int64))
            vocab, terms = state.vocab, state.terms
            lengths = np.fromiter((len(t) for t in batch.values()), dtype=np.int64, count=len(batch))
            cols = np.fromiter(columns(vocab, terms, batch.values()), dtype=np.int32, count=int(lengths.sum()))
            rows = np.repeat(np.arange(len(batch), dtype=np.int32), lengths)
            width = len(terms)
            postings = sparse.csc_matrix(
                (np.ones(cols.size, dtype=np.float32), (rows, cols)), shape=(len(batch), width)
            )
            ids_arr = np.fromiter(batch, dtype=np.int64, count=len(batch))
            seg = Segment(ids_arr, lengths, postings, np.ones(len(batch), dtype=bool))
            df = np.zeros(width, dtype=np.int64)
            df[: state.df.shape[0]] = state.df
            df += np.diff(postings.indptr)
            n_live, total_len = state.n_live + seg.n, state.total_len + int(lengths.sum())
            state = State(state.segments + (seg,), vocab, terms, df, n_live, total_len)
            self._state = self._maybe_merge(state)

    def remove(self, ids: Iterable[int]) -> None:
        """Forget these ids (unknown ids are ignored)."""
        arr = np.unique(np.fromiter((int(i) for i in ids), dtype=np.int64))
        if arr.size == 0:
            return
        with self._write:
            self._state = self._maybe_merge(self._remove_locked(self._state, arr))

    def _remove_locked(self, state: State, ids: np.ndarray) -> State:
        segments = list(state.segments)
        df = state.df
        n_live, total_len = state.n_live, state.total_len
        for i, seg in enumerate(segments):
            pos = seg.positions(ids)
            if pos.size == 0:
                continue
            dead = np.zeros(seg.n, dtype=bool)
            dead[pos] = True
            entries = np.flatnonzero(dead[seg.postings.indices])
            cols = np.searchsorted(seg.postings.indptr, entries, side="right") - 1
            if df is state.df:
                df = df.copy()
            df[: seg.postings.shape[1]] -= np.bincount(cols, minlength=seg.postings.shape[1])
            alive = seg.alive.copy()
            alive[pos] = False
            segments[i] = seg.with_alive(alive)
            n_live -= int(pos.size)
            total_len -= int(seg.lengths[pos].sum())
        if df is state.df:
            return state
        return State(tuple(segments), state.vocab, state.terms, df, n_live, total_len)

    def _maybe_merge(self, state: State) -> State:
        segs = state.segments
        if not segs:
            return state
        total = sum(s.n for s in segs)
        dead = total - state.n_live
        base_n = segs[0].n
        deltas = total - base_n
        if dead > MERGE_FRACTION * total or (
            len(segs) > 1 and (deltas > MERGE_FRACTION * base_n or base_n < MIN_FULL_MERGE)
        ):
            return self._merge_all(state)
        if len(segs) > MAX_DELTAS + 1:
            merged = merge_segments(segs[1:], len(state.terms))
            return State((segs[0], merged), state.vocab, state.terms, state.df, state.n_live, state.total_len)
        return state

    def _merge_all(self, state: State) -> State:
        """One segment of live docs; terms no live doc uses are dropped from the vocabulary."""
        log.debug("bm25: merging %d segments (%d live docs)", len(state.segments), state.n_live)
        merged = merge_segments(state.segments, len(state.terms))
        keep = state.df[: len(state.terms)] > 0
        if keep.all():
            return State((merged,), state.vocab, state.terms, state.df, state.n_live, state.total_len)
        terms = [t for t, k in zip(state.terms, keep.tolist()) if k]
        postings = merged.postings[:, np.flatnonzero(keep)].tocsc()
        seg = Segment(merged.ids, merged.lengths, postings, merged.alive)
        vocab = {t: i for i, t in enumerate(terms)}
        return State((seg,), vocab, terms, state.df[keep].copy(), state.n_live, state.total_len)

    def close(self) -> None:
        """Nothing to release: the postings live in this process's memory until it is collected."""

    # ---- persistence ---------------------------------------------------------------------
    def save(self, directory: Path, meta: dict[str, Any] | None = None) -> None:
        """Write the index atomically under ``directory``; ``meta`` (JSON-able) replaces ``self.meta``."""
        directory = Path(directory)
        # two saves interleaving could delete each other's generation: in this process and in others
        with self._saving, folder_lock(directory, exclusive=True):
            if meta is not None:
                self.meta = dict(meta)
            with self._write:
                state = self._state
                terms = list(state.terms)
            gen = f"g-{uuid.uuid4().hex[:12]}"
            manifest = json.dumps(
                {"format": FORMAT, "version": VERSION, "generation": gen, "segments": len(state.segments),
                 "k1": self.k1, "b": self.b, "meta": self.meta},
                ensure_ascii=False,
            )
            gen_dir = directory / gen
            gen_dir.mkdir(parents=True)
            for i, seg in enumerate(state.segments):
                write_segment(gen_dir, i, seg)
            (gen_dir / "vocab.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
            tmp = directory / f".manifest-{gen}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(manifest)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, directory / "manifest.json")
            for old in directory.glob("g-*"):
                if old.name != gen and old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, directory: Path) -> BM25Index:
        """Read an index written by ``save``: ``FileNotFoundError`` when there is none, ``LoadError`` when
        it is damaged or of another format (callers rebuild from the database in both cases)."""
        directory = Path(directory)
        for _ in range(3):
            try:
                with folder_lock(directory, exclusive=False):  # not while another process saves
                    return cls._load_once(directory)
            except FileNotFoundError:
                if not (directory / "manifest.json").exists():
                    raise
                # a concurrent save replaced the generation we were reading: read the new one
            except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
                raise LoadError(f"lexical index in {directory} is unreadable: {exc}", path=str(directory)) from exc
        raise LoadError(f"lexical index in {directory} kept changing while being read", path=str(directory))

    @classmethod
    def _load_once(cls, directory: Path) -> BM25Index:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
            raise LoadError(f"{directory}: not a zhiku BM25 index of version {VERSION}")
        gen_dir = directory / manifest["generation"]
        terms = json.loads((gen_dir / "vocab.json").read_text(encoding="utf-8"))
        index = cls(k1=manifest["k1"], b=manifest["b"])
        index.meta = manifest.get("meta") or {}
        segments = []
        df = np.zeros(len(terms), dtype=np.int64)
        n_live = total_len = 0
        for i in range(int(manifest["segments"])):
            seg = read_segment(gen_dir, i, len(terms))
            segments.append(seg)
            df += np.diff(seg.live_postings(len(terms))[0])
            n_live += int(seg.alive.sum())
            total_len += int(seg.lengths[seg.alive].sum())
        vocab = {t: i for i, t in enumerate(terms)}
        index._state = State(tuple(segments), vocab, terms, df, n_live, total_len)
        return index


def union(lists: Sequence[np.ndarray]) -> np.ndarray:
    """The sorted distinct values of some sorted posting lists (positions)."""
    if len(lists) == 1:
        return np.asarray(lists[0], dtype=np.int64)
    c = np.sort(np.concatenate(lists)).astype(np.int64, copy=False)
    return c[np.concatenate(([True], c[1:] != c[:-1]))] if c.size else c


def kth_largest(values: np.ndarray, k: int) -> float:
    """The ``k``-th largest of ``values`` (-inf when there are fewer)."""
    if values.size < k:
        return -math.inf
    return float(np.partition(values, values.size - k)[values.size - k])


def top_of(hit: np.ndarray, scores: np.ndarray, k: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The positions among ``hit`` scoring at least the k-th best of them (ties kept) and ``floor``."""
    top = scores[hit]
    if floor > -math.inf:
        keep = top >= floor
        hit, top = hit[keep], top[keep]
    if hit.size > k:
        keep = top >= np.partition(top, hit.size - k)[hit.size - k]
        hit, top = hit[keep], top[keep]
    return hit, top
