"""Whether a retrieved passage answers the question: the refusal rule shared by the extractive
answerer, strict-grounded generation (``zhiku.chat.evidence``), the agent's KB tool and ``zhiku eval``.

Also the word helpers the extractive answerer scores sentences with (question word weights,
Chinese character bigrams, a passage's sentences or table rows), so that both measure a question's
words the same way.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Callable, Sequence

from zhiku.schema import Hit

_QUESTION_GRAMS = frozenset("什么 怎么 哪里 哪个 多少 为什 么么 是谁 是什".split())


def _weights(tokens: Sequence[str]) -> dict[str, float]:
    """Longer tokens carry more of a question's meaning than short function words."""
    out: dict[str, float] = {}
    for t in tokens:
        out[t] = max(out.get(t, 0.0), math.log1p(len(t)) + (0.5 if t.isdigit() else 0.0))
    return out


def relevance(question_lang: str, hit: Hit, question: str | None = None) -> float:
    """How likely the passage answers the question, in [0, 1].

    Dense similarity alone separates near-misses poorly; the question's words found in the
    passage are strong evidence; a Chinese question over English text shares no words, so across
    languages they are matched through a dictionary's glosses (:func:`bridged_coverage`). Given
    the ``question``, the words must come together in one sentence: a passage of the right article
    that lacks the answer (a near miss) holds the question's words scattered over several
    sentences, the answering one holds most of them in one (near-miss sets of bench/quality.py:
    83% refused at 5% false refusals, against 75% for the passage's coverage)."""
    from zhiku.text.normalize import detect_lang

    dense = hit.dense_score if hit.dense_score is not None else None
    cov = hit.lexical_score or 0.0
    if dense is None:
        return cov
    if detect_lang(hit.text) != question_lang:
        from zhiku.text.bridge import available

        if question is None or not available():
            return dense  # scaled ×2.7 it answers zh→en but lets unrelated foreign passages through (benchmarks.md)
        # the question's words through CC-CEDICT glosses: zh→en near misses 100% → 98.7% refused,
        # answerable 86.5% → 51.1% (benchmarks.md, "Across languages: a word bridge")
        return 0.4 * dense + 0.6 * bridged_coverage(question, hit.text)
    if question is None:
        return 0.5 * dense + 0.5 * cov
    return 0.4 * dense + 0.6 * sentence_coverage(question, hit.text)


JUDGED = 3  # the hits the verdict looks at: the answer is rarely below the third


def best_relevance(question_lang: str, hits: Sequence[Hit], question: str | None = None) -> float:
    """The verdict on a search: the best :func:`relevance` of its first ``JUDGED`` hits (0.0 without
    hits). Under ``retrieval.relevance_floor`` the answer is "not in the knowledge base", for the
    extractive answerer and strict-grounded generation alike."""
    return max((relevance(question_lang, h, question) for h in hits[:JUDGED]), default=0.0)


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
    from zhiku.text.normalize import normalize_for_match

    weights, grams = _question_terms(question)
    total = sum(weights.values())
    if not total:
        return 0.0

    def share(unit: str, tokens: frozenset[str]) -> float:
        held = sum(w for t, w in weights.items() if t in tokens) / total
        if grams:
            held = 0.6 * held + 0.4 * len(grams & _bigrams(normalize_for_match(unit))) / len(grams)
        return held

    return _best_unit(text, _numbers(weights), share)


@lru_cache(maxsize=512)
def _unit_tokens(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Each sentence (or table row) of a passage with its lexical tokens, tokenised once while the
    passage is among the recent ones: a verdict reads the same first hits for every part of a
    question, and popular passages come back question after question."""
    from zhiku.text.normalize import lexical_tokens

    return tuple((unit, frozenset(lexical_tokens(unit))) for unit in _units(text))


def _best_unit(text: str, numbers: frozenset[str], share: Callable[[str, frozenset[str]], float]) -> float:
    """The best ``share`` of the question one sentence of ``text`` holds, a sentence without the
    question's years and figures (digits are the same in both languages) marked down."""
    best = 0.0
    for unit, tokens in _unit_tokens(text):
        held = share(unit, tokens)
        if not numbers <= tokens:
            held -= MISSING_NUMBER
        best = max(best, held)
    return best


# A question that names a year or a figure ("1969年", "in 1754", "24.5元") is answered by a sentence that
# holds it; a near miss from the same article tells of another year. Taken off a sentence's coverage
# when it lacks one of the question's numbers: 0.1 (0.06 of the relevance). Near-miss sets, pooled:
# refused at 5% false refusals 0.847 → 0.859; held-out half 0.876 → 0.884 at the tuning half's floor
# (benchmarks.md, "Fourth round").
MISSING_NUMBER = 0.1
_NUMBER = re.compile(r"\d{3,}(?:\.\d+)?|\d+\.\d+")


def _numbers(weights: dict[str, float]) -> frozenset[str]:
    """The question's tokens that are years or figures (three digits or more, or a decimal): a small
    number is more often a count or an ordinal written another way in the answer ("2 differences",
    "第 50 届" for Super Bowl 50, "20世纪70年代" for the 1970s)."""
    return frozenset(t for t in weights if _NUMBER.fullmatch(t))


# Chinese question words with no topic that the bridge would look for (the function words of a
# question, as "the", "what" are for an English one).
_BRIDGE_STOP = frozenset("一个 一种 一些 这个 那个 这些 那些 什么样 何时 何地 其他 还有 没有 进行 大约 为了 "
                         "能够 可以 哪一年 哪一个 哪种 多久 多长".split())


def bridged_coverage(question: str, text: str) -> float:
    """:func:`sentence_coverage` across languages: a Chinese question's words looked for in an
    English sentence through their CC-CEDICT glosses (a word split into dictionary words counts
    by the share of its pieces found), an English question's words among the glosses of a Chinese
    sentence's words (``zhiku.text.bridge``)."""
    from zhiku.text.sentences import question_parts

    return max(_part_bridged(part, text) for part in question_parts(question))


def _part_bridged(question: str, text: str) -> float:
    from zhiku.text.bridge import UNGLOSSED, glossed, held_share
    from zhiku.text.normalize import detect_lang

    weights, _ = _question_terms(question)
    chinese = detect_lang(question) == "zh"
    if chinese:  # one character's glosses are many and vague (有, 中, 该, 让): not evidence either way;
        # 几天 / 多少年 ask "how many days / years": their unit alone ("day") let an English refund rule
        # answer "年假有几天？" (年假 is cut 年 / 假) over the Chinese passage that holds the answer
        weights = {t: w for t, w in weights.items()
                   if len(t) > 1 and t not in _BRIDGE_STOP and not t.startswith(("几", "多少"))}
    else:  # words no gloss is made of ("have", "most", "from") cannot be found: not counted
        weights = {t: w for t, w in weights.items() if t not in UNGLOSSED}
    total = sum(weights.values())
    if not total:
        return 0.0

    def share(unit: str, tokens: frozenset[str]) -> float:
        if chinese:
            return sum(w * held_share(t, tokens) for t, w in weights.items()) / total
        english = glossed(set(tokens))
        return sum(w for t, w in weights.items() if t in english) / total

    return _best_unit(text, _numbers(weights), share)


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


def _bigrams(text: str) -> set[str]:
    """Character bigrams of the Chinese runs (word overlap that does not depend on segmentation),
    question words left out."""
    out: set[str] = set()
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out - _QUESTION_GRAMS
