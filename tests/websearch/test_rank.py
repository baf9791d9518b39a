"""Passage ranking of fetched pages: BM25 + coverage, and which passages the embedder sees."""

from __future__ import annotations

import numpy as np

from zhiku import Zhiku
from zhiku.websearch.extract import Passage
from zhiku.websearch.rank import _dense_pool, bm25, rank_passages


def _p(text: str, url: str = "https://a.example/", rank: int = 0) -> Passage:
    return Passage(url=url, title="T", text=text, engine="test", rank=rank)


def test_bm25_scores_and_coverage() -> None:
    scores, coverage = bm25(["tea", "harvest"], [["tea", "harvest", "spring"], ["tea", "water"], ["volcano"]])
    assert scores[0] > scores[1] > scores[2] == 0
    assert coverage[0] == 1.0 and 0 < coverage[1] < 1 and coverage[2] == 0


def test_dense_pool_reaches_passages_no_word_matches() -> None:
    passages = [_p(f"p{i}", url=f"https://{i // 5}.example/") for i in range(20)]
    none = np.zeros(20)
    assert _dense_pool(passages, none, 8) == [0, 5, 10, 15, 1, 2, 3, 4]  # page firsts, then page order
    some = np.zeros(20)
    some[[7, 12]] = [2.0, 1.0]
    assert _dense_pool(passages, some, 6) == [7, 12, 0, 5, 10, 15]  # best lexical half first


def _rank(app: Zhiku, question: str, passages: list[Passage], top_k: int, dense_candidates: int) -> list:
    name = app.settings.embedding.default
    return rank_passages(question, passages, top_k, app.embedder(name), lambda: app.retriever.query_vector(name, question),
                         dense_candidates, app.settings.retrieval.dense_weight)


def test_ranked_hits_carry_url_and_scores(web_app: Zhiku) -> None:
    passages = [_p("Volcanoes erupt lava and ash.", "https://v.example/"),
                _p("Longjing tea is harvested in early spring before Qingming.", "https://t.example/", 1)]
    hits = _rank(web_app, "When is Longjing tea harvested?", passages, 2, web_app.settings.websearch.dense_candidates)
    assert hits[0].url == "https://t.example/" and hits[0].file_id == "https://t.example/" and hits[0].kb == "web"
    assert 0 < hits[0].score <= 1 and hits[0].lexical_score == 1.0 and hits[0].dense_score is not None
    hits = _rank(web_app, "When is Longjing tea harvested?", passages, 2, 0)  # lexical only
    assert hits[0].url == "https://t.example/" and hits[0].dense_score is None and len(hits) == 1
