"""What an answer is made from: the passages found for the question, how relevant the best of
them is, and the question's embedding, made once and shared by the search and the answerer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from zhiku.llm.relevance import best_relevance
from zhiku.schema import Hit, Retrieved


class QueryVectors:
    """The question's embedding by each embedder, made at most once per question (whatever
    ``retrieval.query_cache`` holds): the search, the web ranking and the extractive answerer
    all take it from here."""

    def __init__(self, question: str, embed: Callable[[str, str], np.ndarray]) -> None:
        """``embed(embedder, question)``: the retriever's ``query_vector``."""
        self.question, self._embed = question, embed
        self._made: dict[str, np.ndarray] = {}

    def get(self, embedder: str) -> np.ndarray:
        if embedder not in self._made:
            self._made[embedder] = self._embed(embedder, self.question)
        return self._made[embedder]

    def made(self) -> dict[str, np.ndarray]:
        """The embeddings made so far, by embedder."""
        return dict(self._made)


@dataclass
class Evidence:
    question: str
    lang: str
    hits: list[Hit]
    best: float  # the best relevance among the first three hits, in [0, 1]
    grounded: bool  # ``best`` reaches ``retrieval.relevance_floor``
    embedder: str  # the embedder the hits were found with (the first KB's)
    vectors: QueryVectors

    @property
    def retrieved(self) -> Retrieved:
        return Retrieved(hits=self.hits, lang=self.lang, best_score=round(self.best, 6), found=self.grounded)


def weigh(question: str, lang: str, hits: list[Hit], floor: float, embedder: str, vectors: QueryVectors,
          stored: Mapping[str, str] | None = None) -> Evidence:
    """The hits with the answerers' estimate of whether they hold the answer (``stored``: the hits'
    stored lexical tokens by text, ``Retriever.stored_tokens``: the same estimate, sooner)."""
    best = best_relevance(lang, hits, question, stored)
    return Evidence(question, lang, hits, best, best >= floor, embedder, vectors)
