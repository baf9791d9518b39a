"""The answerer used when no LLM is configured: the best sentences of the best
passages, each followed by its citation number.

Sentences are scored by how much of the question's rare-term weight they
contain and by their embedding similarity to the question; the passage's own
retrieval score breaks ties. When the best passage scores under the relevance
floor the answer says so instead of quoting something unrelated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from zhiku.schema import Answer, Citation, Hit, KnowledgeBase

if TYPE_CHECKING:
    from zhiku.app import Zhiku

NOT_FOUND = {
    "zh": "知识库中没有找到与这个问题相关的内容。",
    "en": "The knowledge base does not seem to contain an answer to this question.",
}
LEAD = {"zh": "根据知识库中的内容：", "en": "From the knowledge base:"}
MAX_SENTENCE = 400


@dataclass
class _Sentence:
    text: str
    passage: int
    position: int
    score: float = 0.0


def _weights(tokens: Sequence[str]) -> dict[str, float]:
    """Longer tokens carry more of a question's meaning than short function words."""
    out: dict[str, float] = {}
    for t in tokens:
        out[t] = max(out.get(t, 0.0), math.log1p(len(t)) + (0.5 if t.isdigit() else 0.0))
    return out


class ExtractiveAnswerer:
    def __init__(self, app: "Zhiku") -> None:
        self.app = app

    def answer(self, question: str, hits: list[Hit], kbs: Sequence[KnowledgeBase]) -> Answer:
        from zhiku.ingest.normalize import detect_lang

        lang = detect_lang(question)
        floor = self.app.settings.retrieval.relevance_floor
        best = hits[0].score if hits else 0.0
        if not hits or best < floor:
            return Answer(answer=NOT_FOUND[lang], found=False, citations=[], lang=lang, best_score=best)
        opts = self.app.settings.answer
        passages = [h for h in hits[: opts.passages] if h.score >= max(floor, best * 0.5)] or hits[:1]
        sentences = self._candidates(passages)
        self._score(question, sentences, passages, kbs)
        chosen = sorted(sentences, key=lambda s: s.score, reverse=True)[: opts.sentences]
        chosen.sort(key=lambda s: (s.passage, s.position))
        numbers: dict[int, int] = {}
        parts = []
        for s in chosen:
            n = numbers.setdefault(s.passage, len(numbers) + 1)
            parts.append(f"{s.text.strip()} [{n}]")
        sep = "" if lang == "zh" else " "
        body = sep.join(parts)
        citations = [
            Citation(n=n, **passages[p].model_dump()) for p, n in sorted(numbers.items(), key=lambda kv: kv[1])
        ]
        return Answer(answer=f"{LEAD[lang]}\n{body}", found=True, citations=citations, lang=lang, best_score=best)

    @staticmethod
    def _candidates(passages: Sequence[Hit]) -> list[_Sentence]:
        from zhiku.ingest.split import split_sentences

        out: list[_Sentence] = []
        for p, hit in enumerate(passages):
            for i, sent in enumerate(split_sentences(hit.text)):
                sent = sent.strip()
                if len(sent) < 4:
                    continue
                out.append(_Sentence(sent[:MAX_SENTENCE], p, i))
        if not out:
            out = [_Sentence(h.text[:MAX_SENTENCE], p, 0) for p, h in enumerate(passages)]
        return out

    def _score(
        self, question: str, sentences: list[_Sentence], passages: Sequence[Hit], kbs: Sequence[KnowledgeBase]
    ) -> None:
        from zhiku.ingest.normalize import lexical_tokens

        q_weights = _weights(lexical_tokens(question))
        total = sum(q_weights.values()) or 1.0
        lexical = np.array([
            sum(w for t, w in q_weights.items() if t in set(lexical_tokens(s.text))) / total for s in sentences
        ])
        embedder_name = kbs[0].embedder
        cached = self.app.cached_embedder(embedder_name)
        qv = self.app.embedder(embedder_name).embed_query(question)
        vecs, _ = cached.embed_passages([s.text for s in sentences])
        lo, hi = self.app.embedder_score_range(embedder_name)
        dense = np.clip((vecs @ qv - lo) / (hi - lo), 0.0, 1.0)
        prior = np.array([passages[s.passage].score for s in sentences])
        scores = 0.5 * lexical + 0.4 * dense + 0.1 * prior
        for s, v in zip(sentences, scores):
            s.score = float(v)
