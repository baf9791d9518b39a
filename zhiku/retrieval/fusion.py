"""Adaptive weighted score fusion of the dense and lexical channels.

Plain reciprocal rank fusion gives the lexical channel half the vote even when it
has no signal at all (a Chinese question over English passages: BM25 matches
nothing useful and still drags random passages up). Here each channel is scaled
within the candidate pool (min-max, as the prototype that beat RRF did) and the
lexical channel's weight shrinks with its *signal*: the share of the question's
rare-term weight the best lexical candidate covers.

User-facing scores must mean something across queries and KBs, so the fused
ranking score (relative, best = 1) is multiplied by an absolute confidence: the
calibrated dense similarity and lexical coverage of the best candidates. The
best hit's score is therefore the query's relevance estimate, in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class Candidate(Generic[K]):
    """One passage in the pool; ``key`` says which: (KB name, chunk id) in knowledge-base search,
    the passage's position in web search."""

    key: K
    cosine: float | None = None  # raw dense similarity
    bm25: float | None = None  # raw BM25
    coverage: float = 0.0  # share of the query's IDF weight found in the passage
    score: float = 0.0
    dense: float | None = None  # calibrated dense relevance in [0, 1]
    lexical: float | None = None  # lexical relevance in [0, 1]
    extra: dict[str, Any] = field(default_factory=dict)


def calibrate(cosine: float, score_range: tuple[float, float]) -> float:
    lo, hi = score_range
    return min(1.0, max(0.0, (cosine - lo) / (hi - lo)))


def _minmax(values: list[float]) -> list[float]:
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        return [1.0 for _ in values]
    return [(v - lo) / (hi - lo) for v in values]


def lexical_weight(dense_weight: float, best_coverage: float) -> float:
    """The lexical channel's share of the vote, given how much signal it has."""
    signal = min(1.0, max(0.0, (best_coverage - 0.1) / 0.4))
    return (1.0 - dense_weight) * signal


def fuse(
    candidates: list[Candidate[K]], mode: str, score_range: tuple[float, float], dense_weight: float = 0.5
) -> list[Candidate[K]]:
    """Score candidates in place and return them best first."""
    if not candidates:
        return []
    for c in candidates:
        c.dense = calibrate(c.cosine, score_range) if c.cosine is not None else None
        c.lexical = c.coverage if c.bm25 is not None else None
    best_cov = max((c.coverage for c in candidates if c.bm25 is not None), default=0.0)
    best_dense = max((c.dense for c in candidates if c.dense is not None), default=0.0)
    if mode == "dense":
        w_lex = 0.0
    elif mode == "lexical":
        w_lex = 1.0
    else:
        w_lex = lexical_weight(dense_weight, best_cov)
    dense_rel = iter(_minmax([c.cosine for c in candidates if c.cosine is not None]))
    lex_rel = iter(_minmax([c.bm25 for c in candidates if c.bm25 is not None]))
    for c in candidates:  # a channel that did not return a candidate gives it 0
        d = next(dense_rel) if c.cosine is not None else 0.0
        l_ = next(lex_rel) if c.bm25 is not None else 0.0
        c.score = (1.0 - w_lex) * d + w_lex * l_
    confidence = (1.0 - w_lex) * best_dense + w_lex * best_cov
    top = max(c.score for c in candidates) or 1.0
    for c in candidates:
        c.score = round(c.score / top * confidence, 6)
    candidates.sort(key=lambda c: c.score, reverse=True)
    return candidates


def shared_lexical_share(pools: list[list[Candidate[K]]], mode: str, dense_weight: float = 0.5) -> float:
    """The lexical channel's weight for several KBs' candidates at once: from the best coverage of
    them all. Each KB weighing its own would let a KB whose passages miss the question's rare words
    rank by dense similarity alone, above the KB whose passage has them."""
    if mode == "dense":
        return 0.0
    if mode == "lexical":
        return 1.0
    best = max((c.coverage for pool in pools for c in pool if c.bm25 is not None), default=0.0)
    return lexical_weight(dense_weight, best)


def merge_kbs(pools: list[tuple[list[Candidate[K]], tuple[float, float]]], mode: str,
              dense_weight: float = 0.5) -> list[Candidate[K]]:
    """Several KBs' candidates, each KB fused on its own, then each passage scored half by that
    fused score (its place in its KB times the KB's confidence) and half by its own absolute
    relevance (calibrated dense similarity and lexical coverage, weighed alike in every KB: one
    lexical weight for them all), best first. docs/benchmarks.md ("Several KBs at once") measures it against the other merges."""
    share = shared_lexical_share([p for p, _ in pools], mode, dense_weight)
    merged: list[Candidate[K]] = []
    for pool, score_range in pools:
        for c in fuse(pool, mode, score_range, dense_weight):
            own = (1.0 - share) * (c.dense or 0.0) + share * (c.lexical or 0.0)
            c.score = round(0.5 * c.score + 0.5 * own, 6)
            merged.append(c)
    merged.sort(key=lambda c: c.score, reverse=True)
    return merged
