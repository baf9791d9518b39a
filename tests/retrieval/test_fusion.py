"""Adaptive fusion: a channel with no signal must not drown the other."""

from __future__ import annotations

from zhiku.retrieval.fusion import Candidate, fuse, lexical_weight

RANGE = (0.75, 0.95)


def test_no_lexical_signal_means_dense_order() -> None:
    # cross-lingual: BM25 matched only weak tokens (low coverage) and ranks the wrong passage first
    cands = [
        Candidate("right", cosine=0.90, bm25=0.5, coverage=0.05),
        Candidate("wrong", cosine=0.80, bm25=3.0, coverage=0.08),
        Candidate("other", cosine=0.78),
    ]
    ranked = fuse(cands, "hybrid", RANGE)
    assert [c.key for c in ranked] == ["right", "wrong", "other"]


def test_strong_lexical_signal_is_used() -> None:
    cands = [
        Candidate("dense-favourite", cosine=0.88, bm25=1.0, coverage=0.2),
        Candidate("exact-match", cosine=0.87, bm25=9.0, coverage=0.9),
        Candidate("neither", cosine=0.80, bm25=0.5, coverage=0.1),
    ]
    ranked = fuse(cands, "hybrid", RANGE)
    assert ranked[0].key == "exact-match"
    assert lexical_weight(0.5, 0.9) == 0.5 and lexical_weight(0.5, 0.05) == 0.0


def test_scores_are_in_unit_interval_and_ordered() -> None:
    cands = [Candidate(i, cosine=0.7 + i / 100, bm25=float(i), coverage=i / 20) for i in range(20)]
    ranked = fuse(cands, "hybrid", RANGE)
    scores = [c.score for c in ranked]
    assert all(0.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True)


def test_best_score_reflects_absolute_relevance() -> None:
    weak = fuse([Candidate("a", cosine=0.76), Candidate("b", cosine=0.75)], "dense", RANGE)
    strong = fuse([Candidate("a", cosine=0.94), Candidate("b", cosine=0.80)], "dense", RANGE)
    assert weak[0].score < 0.1 < 0.9 < strong[0].score


def test_modes_use_one_channel() -> None:
    cands = [Candidate("d", cosine=0.9, bm25=1.0, coverage=0.3), Candidate("l", cosine=0.8, bm25=5.0, coverage=0.9)]
    assert fuse([Candidate(c.key, c.cosine, c.bm25, c.coverage) for c in cands], "dense", RANGE)[0].key == "d"
    assert fuse([Candidate(c.key, c.cosine, c.bm25, c.coverage) for c in cands], "lexical", RANGE)[0].key == "l"
    assert fuse([], "hybrid", RANGE) == []
