"""PostgreSQL BM25's MaxScore pruning (zhiku/store/pg_lexical.py ``_score``): where the commonest terms'
lists are scored only for the documents of the rarer ones, the top k, every score (to the bit) and every
coverage are those of scoring every list. Random posting lists, a few common terms among rare ones."""

from __future__ import annotations

import numpy as np
import pytest

from zhiku.store import pg_lexical


def _lists(rng: np.random.Generator, n_docs: int) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
    lengths = rng.integers(5, 400, n_docs)
    terms = []
    for share in sorted(rng.uniform(0.0005, 0.6, rng.integers(2, 7)), reverse=False):
        ids = np.sort(rng.choice(n_docs, max(1, int(share * n_docs)), replace=False)).astype(np.int64)
        df = ids.size
        idf = float(np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5)))
        tf = rng.integers(1, 6, ids.size).astype(np.float32)
        terms.append((idf, ids, tf, lengths[ids].astype(np.float32)))
    return sorted(terms, key=lambda t: -t[0])  # rarest first, as the search orders them


@pytest.mark.parametrize("seed", range(12))
def test_pruned_scores_are_the_scores_of_every_list(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    lists = _lists(rng, int(rng.integers(2_000, 60_000)))
    weight = sum(t[0] for t in lists)
    for k in (1, 5, 50):
        monkeypatch.setattr(pg_lexical, "PRUNE_MIN_POSTINGS", 10**12)  # never prune
        plain = pg_lexical._score(lists, weight, 180.0, k, None)
        monkeypatch.setattr(pg_lexical, "PRUNE_MIN_POSTINGS", 0)  # prune whenever the bound allows
        pruned = pg_lexical._score(lists, weight, 180.0, k, None)
        assert pruned == plain  # the same ids, the same floats, the same coverage


def test_pruning_happens_where_a_rare_term_sets_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rare term with a high idf and a very common one: the common list is looked up, not summed whole."""
    n = 100_000
    rare = np.arange(0, n, 997, dtype=np.int64)
    common = np.arange(0, n, 2, dtype=np.int64)
    ones = lambda a: np.ones(a.size, dtype=np.float32)  # noqa: E731
    lists = [(8.0, rare, ones(rare), ones(rare) * 100), (0.7, common, ones(common), ones(common) * 100)]
    monkeypatch.setattr(pg_lexical, "PRUNE_MIN_POSTINGS", 0)
    seen: list[int] = []
    real = pg_lexical._sums
    monkeypatch.setattr(pg_lexical, "_sums", lambda parts, consts: seen.append(sum(p[1].size for p in parts))
                        or real(parts, consts))
    got = pg_lexical._score(lists, 8.7, 100.0, 10, None)
    assert seen == [rare.size]  # only the rare list was summed whole
    assert [i for i, _, _ in got] == [int(i) for i in rare[rare % 2 == 0][:10]]  # both terms beat one
