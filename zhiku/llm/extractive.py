"""The answerer used when no LLM is configured: the best sentences of the best
passages, each followed by its citation number.

Sentences are scored by how much of the question's weighted words they contain
(jieba words, and for Chinese also character bigrams, which do not depend on how
jieba cut the question; a word counts more when few of the candidate sentences hold
it, as the topic every sentence repeats says little about which one answers), by
their embedding similarity to the question, and by whether they hold what the
question's type asks for (a date for "when"/何时, a year for "which year"/哪一年, a
number for "how many"/多少/几, a place, a name, a reason: ``question_types``); the
passage's own retrieval score breaks ties. A quote that refers back ("这种网络",
"it", a Chinese sentence that starts with its verb) or lacks what was asked brings
its neighbouring sentences, and a sentence the splitter cut at "；" is quoted whole. Sentences are quoted as written, so a question in one
language over documents in another is answered with the document's sentences. When
the best passage scores under the relevance floor the answer says so instead of
quoting something unrelated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from zhiku.config import AnswerSettings
from zhiku.llm.question_types import offers, question_type
from zhiku.llm.relevance import _bigrams, _units, _weights, relevance
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
    others: float = 0.5  # another sentence is quoted when its content reaches this share of the lead's
    others_typed: bool = True  # ... and, when the lead holds what the question's type asks for, so does it
    passage_share: float = 0.5  # passages quoted from: those whose relevance reaches this share of the best's
    paren: bool = True  # pieces split inside an open parenthesis are joined again
    subjectless: bool = True  # a Chinese sentence that starts with its verb (是…, 也…) refers back too
    prior: float = 0.2  # of a sentence's score: its passage's retrieval score against the first's
    idf: float = 0.8  # share of a question word's weight that depends on how few candidate sentences hold it
    narrow_types: bool = True  # "哪一年" asks for a year (not "4月20日"), "命名为什么" for a name (not why)
    counted: bool = True  # "三大…", "四类…" count as the number a "how many" question asks for
    clauses: bool = True  # a lead cut at "；" / ";" is quoted with the rest of its sentence
    reach: int = 2  # a lead without the asked-for thing brings the first of the next ``reach`` sentences holding it
    sections: bool = True  # beside the lead, sentences of its passage under the same heading only (年假, not 病假)


BEFORE = SentenceWeights(lexical=0.55, bigrams=0.0, answer_type=0.0, neighbours=False, others=0.8,
                         others_typed=False, passage_share=0.75, paren=False, subjectless=False,
                         narrow_types=False, idf=0.0, sections=False)  # before issue 17
_REFERS_BACK = re.compile(r"^\s*(?:这|那|该|此|其|它|他|她|上述)|^\s*(?:these|this|that|it|they|he|she|its|their|"
                          r"such)\b", re.IGNORECASE)
_NO_SUBJECT = re.compile(r"^\s*(?:是|也|并|並|且|而|但|却|卻|又|便|就|均|都|皆|亦|即|乃|则|則|故|因而|因此|所以|后来|後來|之后|之後|"
                         r"其后|其後|随后|隨後|同时|同時)")


_CLAUSE_END = ("；", ";")


@dataclass
class _Sentence:
    text: str
    passage: int
    position: int
    score: float = 0.0
    content: float = 0.0  # how well the sentence itself matches the question
    typed: bool = False  # holds what the question's type asks for
    section: int = 0  # headings passed in its passage before it (a chunk may span several sections)


_TERMINAL = tuple("。！？；….!?;:：”’」』）)")


_FIELD = re.compile(r"^[^:：]{1,20}[:：]\s*\S")  # "联系人：张伟", "Contact: Jane Doe"
_WORD = re.compile(r"[\u4e00-\u9fff]|[A-Za-z]{2,}")


def _looks_like_heading(text: str) -> bool:
    """A short line without a sentence's end; a "field: value" line is not one (it may be the answer)."""
    return len(text) < 25 and not text.endswith(_TERMINAL) and not _FIELD.match(text)


def _too_thin(text: str) -> bool:
    """Too few words to answer anything: "28 U.S.C. § 586(b).", "(3)", a page number."""
    return len(_WORD.findall(text)) < 3


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
        lang, best, passages = self.passages(question, hits)
        if best < self.floor:
            return Answer(answer=NOT_FOUND[lang], found=False, citations=[], lang=lang, best_score=round(best, 6))
        opts = self.options
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
                     and (s.typed or not lead.typed or not self.weights.others_typed) and self._beside(lead, s)]
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
        # one passage's sentences run on (no space between Chinese ones); the quotes of different passages stand
        # apart after their markers in either language ("…原件。 [1] 问题：…", not "[1]问题")
        body = " ".join(_cited(sep.join(texts), numbers[p]) for p, texts in runs)
        citations = [
            Citation(n=n, **passages[p].model_dump()) for p, n in sorted(numbers.items(), key=lambda kv: kv[1])
        ]
        return Answer(answer=f"{LEAD[lang]}\n{body}", found=True, citations=citations, lang=lang,
                      best_score=round(best, 6))

    def passages(self, question: str, hits: list[Hit]) -> tuple[str, float, list[Hit]]:
        """The question's language, the verdict (the best relevance of the first three hits) and the
        passages quoted from: of the first ``answer.passages``, those within ``passage_share`` of the best."""
        from zhiku.text.normalize import detect_lang

        lang = detect_lang(question)
        rel = [relevance(lang, h, question) for h in hits]
        best = max(rel[:3], default=0.0)
        share = self.weights.passage_share
        return lang, best, [h for h, r in zip(hits[: self.options.passages], rel) if r >= best * share] or hits[:1]

    def _with_neighbours(self, lead: _Sentence, chosen: list[_Sentence], sentences: list[_Sentence],
                         limit: int) -> list[_Sentence]:
        """The lead with the sentence before it when it refers back (or ends a sentence cut at "；"),
        and, when it lacks what the question asks for, the first of the next ``reach`` sentences that
        holds it (else the one after); the one after too when the lead was cut at "；"; then the other
        chosen sentences, ``limit`` in all."""
        at = {(s.passage, s.position): s for s in sentences}
        before, after = at.get((lead.passage, lead.position - 1)), at.get((lead.passage, lead.position + 1))
        clauses = self.weights.clauses
        wanted = []
        if (_REFERS_BACK.match(lead.text) or (self.weights.subjectless and _NO_SUBJECT.match(lead.text))
                or (clauses and before is not None and before.text.endswith(_CLAUSE_END))):
            wanted.append(before)
        if clauses and lead.text.endswith(_CLAUSE_END):
            wanted.append(after)
        elif not lead.typed:
            ahead = [s for i in range(1, self.weights.reach + 1)
                     if (s := at.get((lead.passage, lead.position + i))) is None or self._beside(lead, s)]
            wanted.append(next((s for s in ahead if s is not None and s.typed), after))
        extra = [s for s in wanted if s is not None]
        return ([lead] + extra + [s for s in chosen[1:] if s not in extra])[: max(limit, 1 + len(extra))]

    def _beside(self, lead: _Sentence, other: _Sentence) -> bool:
        """Whether ``other`` may be quoted beside ``lead``: from another passage, or from the lead's
        section of its own. A chunk of a handbook may hold 年假 and 病假 under their headings; a
        question about annual leave is not answered with the sick-leave rule because both say 天."""
        return not self.weights.sections or other.passage != lead.passage or other.section == lead.section

    def _candidates(self, passages: Sequence[Hit]) -> list[_Sentence]:
        out: list[_Sentence] = []
        for p, hit in enumerate(passages):
            headings = set((hit.section or "").split(" > "))
            # a heading inside the chunk: a line of its own that reads as one (a sentence's short
            # piece, "《我爱你！》", is not on a line of its own)
            lines = (ln.strip() for ln in hit.text.splitlines())
            heading_lines = {ln for ln in lines if ln and _looks_like_heading(ln)}
            units = _units(hit.text)
            if self.weights.paren:
                units = _paren_joined(units)
            section = 0
            for i, sent in enumerate(units):
                if sent in heading_lines:
                    section += 1
                if len(sent) < 4 or sent in headings or _looks_like_heading(sent) or _too_thin(sent):
                    continue
                out.append(_Sentence(sent[:MAX_SENTENCE], p, i, section=section))
        if not out:
            out = [_Sentence(h.text[:MAX_SENTENCE], p, 0) for p, h in enumerate(passages)]
        return out

    def _score(
        self, question: str, sentences: list[_Sentence], passages: Sequence[Hit], embedder: str, qv: np.ndarray,
    ) -> None:
        from zhiku.text.normalize import lexical_tokens, normalize_for_match

        weights = self.weights
        q_norm = normalize_for_match(question)
        kind = question_type(q_norm, narrow=weights.narrow_types)
        q_weights = _weights(lexical_tokens(question))
        total = sum(q_weights.values()) or 1.0
        sentence_tokens = [set(lexical_tokens(s.text)) for s in sentences]  # once per sentence, not per term
        if weights.idf and len(sentences) > 2:
            n = len(sentences)
            idf = {t: math.log((n + 1) / (0.5 + sum(t in toks for toks in sentence_tokens))) for t in q_weights}
            top = max(idf.values(), default=1.0) or 1.0
            q_weights = {t: w * (1 - weights.idf + weights.idf * max(idf[t], 0.0) / top) for t, w in q_weights.items()}
            total = sum(q_weights.values()) or 1.0
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
        typed = [bool(kind) and offers(kind or "", t, s.text, q_norm, question, weights.counted) for s, t in zip(sentences, normed)]
        content = weights.lexical * lexical + (1 - weights.lexical) * dense
        content = content + weights.answer_type * np.array(typed, dtype=np.float64)
        for s, c, p, ty in zip(sentences, content, prior, typed):
            s.content, s.typed = float(c), ty
            s.score = float((1 - weights.prior) * c + weights.prior * p)


def _paren_joined(units: list[str]) -> list[str]:
    """Pieces split inside an open parenthesis ("The Amazon rainforest (Portuguese: ...; Spanish: ...)")
    joined again, so the sentence is quoted whole."""
    out: list[str] = []
    depth = 0
    for u in units:
        if depth > 0 and out:
            out[-1] += u if re.match(r"[\u3000-\u9fff\uff00-\uffef]", u) else f" {u}"
        else:
            out.append(u)
        depth = max(0, depth + u.count("(") + u.count("（") - u.count(")") - u.count("）"))
    return out
