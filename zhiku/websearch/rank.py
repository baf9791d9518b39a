"""Rank passages of fetched pages against the question.

BM25 (with the project's tokeniser: jieba, stemming, stopwords, Traditional→Simplified)
over the passages of this one question's pages, plus the default embedder's similarity
for the best lexical passages and each page's first passage (dense catches a question
in one language over pages in another, where BM25 has no signal). Both channels are
fused exactly as knowledge-base search fuses them (``zhiku.retrieval.fusion``), so web
hits carry the same kind of [0, 1] scores and the answerers' relevance floor means the
same thing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from zhiku.embed.base import Embedder
from zhiku.retrieval.fusion import Candidate, fuse
from zhiku.schema import Hit
from zhiku.websearch.extract import Passage

K1, B = 1.5, 0.75


def bm25(query: Sequence[str], docs: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """BM25 scores of the docs and the share of the query's IDF weight each contains."""
    n = len(docs)
    terms = list(dict.fromkeys(query))
    if not n or not terms:
        return np.zeros(n), np.zeros(n)
    df = Counter(t for d in docs for t in set(d) if t in terms)
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in terms}
    total = sum(idf.values()) or 1.0
    avg = sum(len(d) for d in docs) / n or 1.0
    scores, coverage = np.zeros(n), np.zeros(n)
    for i, d in enumerate(docs):
        tf = Counter(d)
        norm = K1 * (1 - B + B * len(d) / avg)
        scores[i] = sum(idf[t] * tf[t] * (K1 + 1) / (tf[t] + norm) for t in terms if tf[t])
        coverage[i] = sum(idf[t] for t in terms if tf[t]) / total
    return scores, coverage


def _dense_pool(passages: Sequence[Passage], lexical: np.ndarray, limit: int) -> list[int]:
    order = [int(i) for i in np.argsort(-lexical, kind="stable") if lexical[i] > 0]
    firsts, seen_urls = [], set()
    for i, p in enumerate(passages):
        if p.url not in seen_urls:
            seen_urls.add(p.url)
            firsts.append(i)
    pool: list[int] = []
    # the best lexical half, each page's first passage, the other lexical matches, then the rest in page
    # order (a question in another language matches nothing lexically: dense alone must find the passage)
    for i in [*order[: max(1, limit // 2)], *firsts, *order[limit // 2:], *range(len(passages))]:
        if len(pool) >= limit:
            break
        if i not in pool:
            pool.append(i)
    return pool


def rank_passages(
    question: str, passages: Sequence[Passage], top_k: int, embedder: Embedder,
    query_vector: Callable[[], np.ndarray], dense_candidates: int, dense_weight: float,
) -> list[Hit]:
    """``embedder``: the default one (its ``query_vector()`` is the question's embedding by it,
    asked for only when ``dense_candidates`` > 0); ``dense_weight`` as in knowledge-base search."""
    from zhiku.text.normalize import lexical_tokens

    if not passages:
        return []
    q_tokens = lexical_tokens(question)
    scores, coverage = bm25(q_tokens, [lexical_tokens(p.text) for p in passages])
    n_dense = dense_candidates
    candidates = {i: Candidate(key=i, bm25=float(scores[i]), coverage=float(coverage[i]))
                  for i in range(len(passages)) if scores[i] > 0}
    mode = "hybrid"
    if n_dense > 0:
        pool = _dense_pool(passages, scores, n_dense)
        qv = query_vector()
        # not through the embedding cache: web passages are read once, the cache would only grow
        vecs = embedder.embed_passages([passages[i].text for i in pool])
        for i, cos in zip(pool, vecs @ qv):
            c = candidates.setdefault(i, Candidate(key=i, coverage=float(coverage[i])))
            c.cosine = float(cos)
        score_range = embedder.score_range
        if not q_tokens:
            mode = "dense"
    else:
        mode, score_range = "lexical", (0.0, 1.0)
    ranked = fuse(list(candidates.values()), mode, score_range, dense_weight)
    hits = []
    for c in ranked[:top_k]:
        p = passages[int(c.key)]
        hits.append(Hit(
            kb="web", file=p.title, file_id=p.url, page=None, section=p.section, chunk_id=int(c.key),
            score=c.score, text=p.text, url=p.url,
            dense_score=None if c.dense is None else round(c.dense, 6),
            lexical_score=round(c.coverage, 6),
            meta={"engine": p.engine, "result_rank": p.rank + 1, "from_snippet": p.from_snippet},
        ))
    return hits
