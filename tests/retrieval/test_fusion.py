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


def test_several_kbs_weigh_the_words_alike() -> None:
    """The 150x layout's fault (issue 17): a KB whose passage misses the question's rare words
    weighed its lexical channel at almost nothing and ranked on dense similarity alone, above the
    KB whose passage has them. Merged with one lexical weight for both, the passage with the
    words comes first; each KB fused alone, it did not."""
    from zhiku.retrieval.fusion import merge_kbs

    def pools() -> list[tuple[list[Candidate[str]], tuple[float, float]]]:
        gold = [Candidate("gold", cosine=0.88, bm25=5.0, coverage=0.8), Candidate("g2", cosine=0.80, bm25=1.0,
                                                                              coverage=0.2)]
        sibling = [Candidate("sibling", cosine=0.92, bm25=1.0, coverage=0.15),
                   Candidate("s2", cosine=0.85, bm25=0.5, coverage=0.1)]
        return [(gold, RANGE), (sibling, RANGE)]

    alone = sorted((c for pool, r in pools() for c in fuse(pool, "hybrid", r)), key=lambda c: -c.score)
    assert alone[0].key == "sibling"
    merged = merge_kbs(pools(), "hybrid")
    assert merged[0].key == "gold"
    assert [c.score for c in merged] == sorted((c.score for c in merged), reverse=True)
    assert all(0.0 <= c.score <= 1.0 for c in merged)
    # lexical mode: coverage decides across KBs; dense mode: the calibrated similarity
    assert merge_kbs(pools(), "lexical")[0].key == "gold"
    assert merge_kbs(pools(), "dense")[0].key == "sibling"
