"""The answerer used when no LLM is configured: the best sentences of the best
passages, each followed by its citation number.

Sentences are scored by how much of the question's weighted words they contain
(jieba words, and for Chinese also character bigrams, which do not depend on how
jieba cut the question), by their embedding similarity to the question, and by
whether they hold what the question's type asks for (a date for "when"/何时, a
number for "how many"/多少/几, a place, a name, a reason: ``question_types``); the
passage's own retrieval score breaks ties. A quote that refers back ("这种网络",
"it") or lacks what was asked brings its neighbouring sentences. Sentences are
quoted as written, so a question in one language over documents in another is
answered with the document's sentences. When the best passage scores under the
relevance floor the answer says so instead of quoting something unrelated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from zhiku.config import AnswerSettings
from zhiku.llm.question_types import offers, question_type
from zhiku.schema import Answer, Citation, Hit
from zhiku.text.sentences import question_parts

NOT_FOUND = {
    "zh": "知识库中没有找到与这个问题相关的内容。",
    "en": "The knowledge base does not seem to contain an answer to this question.",
}
LEAD = {"zh": "根据知识库中的内容：", "en": "From the knowledge base:"}
MAX_SENTENCE = 400


@dataclass(frozen=True)
class SentenceWeights:
    """How a sentence is weighed (bench/quality.py measures one set of weights against another)."""

    lexical: float = 0.35  # the question's words, against the embedding similarity (1 - lexical)
    bigrams: float = 0.4  # of the words' part: Chinese character bigrams (the rest: jieba words)
    answer_type: float = 0.1  # added when the sentence holds what the question's type asks for
    neighbours: bool = True  # a quote that refers back or lacks the asked-for thing brings its neighbours
    others: float = 0.6  # another sentence is quoted when its content reaches this share of the lead's
    others_typed: bool = True  # ... and, when the lead holds what the question's type asks for, so does it


BEFORE = SentenceWeights(lexical=0.55, bigrams=0.0, answer_type=0.0, neighbours=False, others=0.8,
                         others_typed=False)  # before issue 17
_REFERS_BACK = re.compile(r"^\s*(?:这|那|该|此|其|它|他|她|上述)|^\s*(?:these|this|that|it|they|he|she|its|their|"
                          r"such)\b", re.IGNORECASE)
_QUESTION_GRAMS = frozenset("什么 怎么 哪里 哪个 多少 为什 么么 是谁 是什".split())


@dataclass
class _Sentence:
    text: str
    passage: int
    position: int
    score: float = 0.0
    content: float = 0.0  # how well the sentence itself matches the question
    typed: bool = False  # holds what the question's type asks for


def _weights(tokens: Sequence[str]) -> dict[str, float]:
    """Longer tokens carry more of a question's meaning than short function words."""
    out: dict[str, float] = {}
    for t in tokens:
        out[t] = max(out.get(t, 0.0), math.log1p(len(t)) + (0.5 if t.isdigit() else 0.0))
    return out


_TERMINAL = tuple("。！？；….!?;:：”’」』）)")


def relevance(question_lang: str, hit: Hit, question: str | None = None) -> float:
    """How likely the passage answers the question, in [0, 1].

    Dense similarity alone separates near-misses poorly; the question's words found in the
    passage are strong evidence, but only when both are in the same language (a Chinese question
    over English text shares no words). Given the ``question``, the words must come together in
    one sentence: a passage of the right article that lacks the answer (a near miss) holds the
    question's words scattered over several sentences, the answering one holds most of them in
    one (near-miss sets of bench/quality.py: 83% refused at 5% false refusals, against 75% for
    the passage's coverage)."""
    from zhiku.text.normalize import detect_lang

    dense = hit.dense_score if hit.dense_score is not None else None
    cov = hit.lexical_score or 0.0
    if dense is None:
        return cov
    if detect_lang(hit.text) != question_lang:
        return dense  # scaled ×2.7 it answers zh→en but lets unrelated foreign passages through (benchmarks.md)
    if question is None:
        return 0.5 * dense + 0.5 * cov
    return 0.4 * dense + 0.6 * sentence_coverage(question, hit.text)


@lru_cache(maxsize=64)
def _question_terms(question: str) -> tuple[dict[str, float], frozenset[str]]:
    from zhiku.text.normalize import lexical_tokens, normalize_for_match

    return _weights(lexical_tokens(question)), frozenset(_bigrams(normalize_for_match(question)))


def sentence_coverage(question: str, text: str) -> float:
    """The largest share of the question's weighted words one sentence of ``text`` holds (for
    Chinese, 0.6 words + 0.4 character bigrams); of a question that asks several one after another,
    the best of its parts."""
    from zhiku.text.sentences import question_parts

    return max(_part_coverage(part, text) for part in question_parts(question))


def _part_coverage(question: str, text: str) -> float:
    from zhiku.text.normalize import lexical_tokens, normalize_for_match

    weights, grams = _question_terms(question)
    total = sum(weights.values())
    if not total:
        return 0.0
    best = 0.0
    for unit in _units(text):
        tokens = set(lexical_tokens(unit))
        share = sum(w for t, w in weights.items() if t in tokens) / total
        if grams:
            share = 0.6 * share + 0.4 * len(grams & _bigrams(normalize_for_match(unit))) / len(grams)
        best = max(best, share)
    return best


_FIELD = re.compile(r"^[^:：]{1,20}[:：]\s*\S")  # "联系人：张伟", "Contact: Jane Doe"
_WORD = re.compile(r"[\u4e00-\u9fff]|[A-Za-z]{2,}")


def _looks_like_heading(text: str) -> bool:
    """A short line without a sentence's end; a "field: value" line is not one (it may be the answer)."""
    return len(text) < 25 and not text.endswith(_TERMINAL) and not _FIELD.match(text)


def _too_thin(text: str) -> bool:
    """Too few words to answer anything: "28 U.S.C. § 586(b).", "(3)", a page number."""
    return len(_WORD.findall(text)) < 3


def _table_rows(text: str) -> list[str] | None:
    """Rows of a markdown table as "header: value" lines; None when the text is not a table."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    table = [ln for ln in lines if ln.startswith("|") and ln.endswith("|")]
    if len(table) < 3 or len(table) < len(lines) / 2:
        return None
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in table]
    header, rows = cells[0], [r for r in cells[1:] if not all(set(c) <= set("-: ") for c in r)]
    out = []
    for row in rows:
        pairs = [f"{h}: {v}" if h else v for h, v in zip(header, row) if v]
        if pairs:
            out.append("; ".join(pairs))
    return out


def _units(text: str) -> list[str]:
    from zhiku.text.sentences import split_sentences

    rows = _table_rows(text)
    if rows is not None:
        return rows
    return [s.strip() for s in split_sentences(text) if s.strip()]


def _cited(text: str, n: int) -> str:
    """The quoted text with its marker: after the text, or under it when the text ends in a table row
    (a marker after a row's closing ``|`` would be a cell beyond the table's columns, dropped by
    Markdown renderers)."""
    last = text.rstrip().rsplit("\n", 1)[-1].strip()
    if len(last) > 1 and last.startswith("|") and last.endswith("|"):
        return f"{text.rstrip()}\n\n[{n}]\n\n"
    return f"{text} [{n}]"


class PassageEmbedder(Protocol):
    def embed_passages(self, texts: Sequence[str]) -> tuple[np.ndarray, Any]: ...


class ExtractiveAnswerer:
    def __init__(
        self, relevance_floor: float, options: AnswerSettings, passage_embedder: Callable[[str], PassageEmbedder],
        score_range: Callable[[str], tuple[float, float]], query_vector: Callable[[str, str], np.ndarray],
    ) -> None:
        """``passage_embedder(name)`` embeds the candidate sentences (through the embedding cache);
        ``query_vector(name, question)`` embeds a question no search has embedded yet."""
        self.floor, self.options = relevance_floor, options
        self.passage_embedder, self.score_range, self.query_vector = passage_embedder, score_range, query_vector
        self.weights = SentenceWeights()

    def answer(self, question: str, hits: list[Hit], embedder: str, query_vector: np.ndarray | None = None) -> Answer:
        """``embedder``: the one the hits were found with; ``query_vector``: the question's embedding
        by it, when the search already made it."""
        from zhiku.text.normalize import detect_lang

        lang = detect_lang(question)
        rel = [relevance(lang, h, question) for h in hits]
        best = max(rel[:3], default=0.0)
        if best < self.floor:
            return Answer(answer=NOT_FOUND[lang], found=False, citations=[], lang=lang, best_score=round(best, 6))
        opts = self.options
        passages = [h for h, r in zip(hits[: opts.passages], rel) if r >= best * 0.75] or hits[:1]
        sentences = self._candidates(passages)
        parts = question_parts(question)
        if len(parts) > 1:  # one question after another: the best sentence for each
            chosen = []
            for part in parts[: opts.sentences]:
                self._score(part, sentences, passages, embedder, self.query_vector(embedder, part))
                best_for_part = max(sentences, key=lambda s: s.score)
                if best_for_part not in chosen:
                    chosen.append(best_for_part)
        else:
            qv = query_vector if query_vector is not None else self.query_vector(embedder, question)
            self._score(question, sentences, passages, embedder, qv)
            ranked = sorted(sentences, key=lambda s: s.score, reverse=True)
            lead = ranked[0]
            # not the meeting's time beside its place: beside a typed lead, typed sentences only
            close = [s for s in ranked[1:] if s.content >= self.weights.others * lead.content
                     and (s.typed or not lead.typed or not self.weights.others_typed)]
            chosen = [lead] + close[: opts.sentences - 1]
            if self.weights.neighbours:
                chosen = self._with_neighbours(lead, chosen, sentences, opts.sentences)
        chosen.sort(key=lambda s: (s.passage, s.position))
        numbers: dict[int, int] = {}
        sep = "" if lang == "zh" else " "
        runs: list[tuple[int, list[str]]] = []
        for s in chosen:
            numbers.setdefault(s.passage, len(numbers) + 1)
            if runs and runs[-1][0] == s.passage:
                runs[-1][1].append(s.text)
            else:
                runs.append((s.passage, [s.text]))
        body = sep.join(_cited(sep.join(texts), numbers[p]) for p, texts in runs)
        citations = [
            Citation(n=n, **passages[p].model_dump()) for p, n in sorted(numbers.items(), key=lambda kv: kv[1])
        ]
        return Answer(answer=f"{LEAD[lang]}\n{body}", found=True, citations=citations, lang=lang,
                      best_score=round(best, 6))

    @staticmethod
    def _with_neighbours(lead: _Sentence, chosen: list[_Sentence], sentences: list[_Sentence],
                         limit: int) -> list[_Sentence]:
        """The lead with the sentence before it when it refers back, and the one after it when it
        lacks what the question asks for; then the other chosen sentences, ``limit`` in all."""
        at = {(s.passage, s.position): s for s in sentences}
        wanted = []
        if _REFERS_BACK.match(lead.text):
            wanted.append(at.get((lead.passage, lead.position - 1)))
        if not lead.typed:
            wanted.append(at.get((lead.passage, lead.position + 1)))
        extra = [s for s in wanted if s is not None]
        return ([lead] + extra + [s for s in chosen[1:] if s not in extra])[: max(limit, 1 + len(extra))]

    @staticmethod
    def _candidates(passages: Sequence[Hit]) -> list[_Sentence]:
        out: list[_Sentence] = []
        for p, hit in enumerate(passages):
            headings = set((hit.section or "").split(" > "))
            for i, sent in enumerate(_units(hit.text)):
                if len(sent) < 4 or sent in headings or _looks_like_heading(sent) or _too_thin(sent):
                    continue
                out.append(_Sentence(sent[:MAX_SENTENCE], p, i))
        if not out:
            out = [_Sentence(h.text[:MAX_SENTENCE], p, 0) for p, h in enumerate(passages)]
        return out

    def _score(
        self, question: str, sentences: list[_Sentence], passages: Sequence[Hit], embedder: str, qv: np.ndarray,
    ) -> None:
        from zhiku.text.normalize import lexical_tokens, normalize_for_match

        weights = self.weights
        q_norm = normalize_for_match(question)
        kind = question_type(q_norm)
        q_weights = _weights(lexical_tokens(question))
        total = sum(q_weights.values()) or 1.0
        sentence_tokens = [set(lexical_tokens(s.text)) for s in sentences]  # once per sentence, not per term
        lexical = np.array([sum(w for t, w in q_weights.items() if t in toks) / total for toks in sentence_tokens])
        normed = [normalize_for_match(s.text) for s in sentences]
        q_grams = _bigrams(q_norm)
        if weights.bigrams and q_grams:
            grams = np.array([len(q_grams & _bigrams(t)) / len(q_grams) for t in normed])
            lexical = (1 - weights.bigrams) * lexical + weights.bigrams * grams
        vecs, _ = self.passage_embedder(embedder).embed_passages([s.text for s in sentences])
        lo, hi = self.score_range(embedder)
        dense = np.clip((vecs @ qv - lo) / (hi - lo), 0.0, 1.0)
        best = passages[0].score or 1.0
        prior = np.array([passages[s.passage].score / best for s in sentences])
        typed = [bool(kind) and offers(kind or "", t, s.text, q_norm, question) for s, t in zip(sentences, normed)]
        content = weights.lexical * lexical + (1 - weights.lexical) * dense
        content = content + weights.answer_type * np.array(typed, dtype=np.float64)
        for s, c, p, ty in zip(sentences, content, prior, typed):
            s.content, s.typed = float(c), ty
            s.score = float(0.8 * c + 0.2 * p)


def _bigrams(text: str) -> set[str]:
    """Character bigrams of the Chinese runs (word overlap that does not depend on segmentation),
    question words left out."""
    out: set[str] = set()
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out - _QUESTION_GRAMS
