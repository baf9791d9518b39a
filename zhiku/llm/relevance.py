"""Whether a retrieved passage answers the question: the refusal rule shared by the extractive
answerer, strict-grounded generation (``zhiku.chat.evidence``), the agent's KB tool and ``zhiku eval``.

Also the word helpers the extractive answerer scores sentences with (question word weights,
Chinese character bigrams, a passage's sentences or table rows), so that both measure a question's
words the same way.
"""

from __future__ import annotations

import math
import operator
import re
import threading
from collections import Counter, OrderedDict
from functools import lru_cache
from typing import Callable, Mapping, Sequence

from zhiku.schema import Hit

_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_QUESTION_GRAMS = frozenset("什么 怎么 哪里 哪个 多少 为什 么么 是谁 是什".split())


def _weights(tokens: Sequence[str]) -> dict[str, float]:
    """Longer tokens carry more of a question's meaning than short function words."""
    out: dict[str, float] = {}
    for t in tokens:
        out[t] = max(out.get(t, 0.0), math.log1p(len(t)) + (0.5 if t.isdigit() else 0.0))
    return out


def relevance(question_lang: str, hit: Hit, question: str | None = None, tokens: str | None = None) -> float:
    """How likely the passage answers the question, in [0, 1].

    Dense similarity alone separates near-misses poorly; the question's words found in the
    passage are strong evidence; a Chinese question over English text shares no words, so across
    languages they are matched through a dictionary's glosses (:func:`bridged_coverage`). Given
    the ``question``, the words must come together in one sentence: a passage of the right article
    that lacks the answer (a near miss) holds the question's words scattered over several
    sentences, the answering one holds most of them in one (near-miss sets of bench/quality.py:
    83% refused at 5% false refusals, against 75% for the passage's coverage).

    ``tokens``: the passage's lexical tokens as its knowledge base stores them (space-joined; see
    :class:`Passage`): the same verdict, with less tokenising."""
    dense = hit.dense_score if hit.dense_score is not None else None
    cov = hit.lexical_score or 0.0
    if dense is None:
        return cov
    if Passage.of(hit.text, tokens).lang != question_lang:
        from zhiku.text.bridge import available

        if question is None or not available():
            return dense  # scaled ×2.7 it answers zh→en but lets unrelated foreign passages through (benchmarks.md)
        # the question's words through CC-CEDICT glosses: zh→en near misses 100% → 98.7% refused,
        # answerable 86.5% → 51.1% (benchmarks.md, "Across languages: a word bridge")
        return 0.4 * dense + 0.6 * bridged_coverage(question, hit.text, tokens)
    if question is None:
        return 0.5 * dense + 0.5 * cov
    return 0.4 * dense + 0.6 * sentence_coverage(question, hit.text, tokens)


JUDGED = 3  # the hits the verdict looks at: the answer is rarely below the third


def best_relevance(question_lang: str, hits: Sequence[Hit], question: str | None = None,
                   stored: Mapping[str, str] | None = None) -> float:
    """The verdict on a search: the best :func:`relevance` of its first ``JUDGED`` hits (0.0 without
    hits). Under ``retrieval.relevance_floor`` the answer is "not in the knowledge base", for the
    extractive answerer and strict-grounded generation alike. ``stored``: the hits' stored lexical
    tokens by the hit's text, where the search has them (``Retriever.stored_tokens``): the same
    verdict, sooner."""
    stored = stored or {}
    return max((relevance(question_lang, h, question, stored.get(h.text)) for h in hits[:JUDGED]), default=0.0)


@lru_cache(maxsize=64)
def _question_terms(question: str) -> tuple[dict[str, float], frozenset[str]]:
    from zhiku.text.normalize import normalize_for_match, question_tokens

    return _weights(question_tokens(question)), frozenset(_bigrams(normalize_for_match(question)))


def sentence_coverage(question: str, text: str, tokens: str | None = None) -> float:
    """The largest share of the question's weighted words one sentence of ``text`` holds (for
    Chinese, 0.6 words + 0.4 character bigrams); of a question that asks several one after another,
    the best of its parts. ``tokens``: the text's stored lexical tokens, if known (:class:`Passage`)."""
    from zhiku.text.sentences import question_parts

    passage = Passage.of(text, tokens)
    return max(_part_coverage(part, passage) for part in question_parts(question))


def _part_coverage(question: str, passage: "Passage") -> float:
    weights, grams = _question_terms(question)
    total = sum(weights.values())
    if not total:
        return 0.0

    def share(i: int, held: frozenset[str]) -> float:
        words = sum(w for t, w in weights.items() if t in held) / total
        if grams:  # a question's bigram is among a sentence's (_bigrams) where the sentence holds it
            form = passage.forms[i]
            words = 0.6 * words + 0.4 * sum(1 for g in grams if g in form) / len(grams)
        return words

    return _best_unit(passage, frozenset(weights), _numbers(weights), share)


def _best_unit(passage: "Passage", words: frozenset[str], numbers: frozenset[str],
               share: Callable[[int, frozenset[str]], float]) -> float:
    """The best ``share`` of the question one sentence of the passage holds, given which of
    ``words`` are among the sentence's tokens; a sentence without the question's years and figures
    (digits are the same in both languages; ``numbers`` is part of ``words``) marked down."""
    best = 0.0
    for i, held in enumerate(passage.held(words | numbers)):
        value = share(i, held)
        if not numbers <= held:
            value -= MISSING_NUMBER
        best = max(best, value)
    return best


_ALPHA = re.compile(r"[a-z]+")


class Passage:
    """A passage's sentences (or table rows) as the verdict reads them, and which words are among
    each one's lexical tokens.

    Tokenising every sentence of the first hits with jieba was half of a KB chat's interpreter time
    before its first token (docs/benchmarks.md §4). A knowledge base stores each chunk's tokens
    (``lexical_tokens`` of its text, for BM25), and they are its sentences' tokens one after another:
    jieba cuts within runs of letters and ideographs, which a sentence end never joins (checked on
    the 2,096 dev-set passages the questions' first hits are). So a word is among a sentence's tokens only where the sentence holds it
    as a substring (a stemmed English word: its stem, less a final ``y`` for ``-ies``), at most as
    often; when the substrings of the word in all the sentences are as many as the stored tokens
    hold, each one is a token, and the sentences that hold one are known without tokenising; so are
    they when the substrings inside the passage's other tokens whose sentences are known (``中`` in
    ``中国``) are taken off. Only sentences holding a substring still in doubt (``he`` in ``the``, a
    stopword) are tokenised, once. Without stored tokens (a web page, a table's rows, tokens that
    cannot be the text's) every sentence is tokenised: the same verdict either way (every dev-set
    question's hits, tests/retrieval/test_stored_tokens.py)."""

    _recent: "OrderedDict[str, Passage]" = OrderedDict()
    _lock = threading.Lock()
    KEEP = 512  # passages: a question's parts and later questions read the same first hits again

    def __init__(self, text: str, tokens: str | None = None) -> None:
        from zhiku.text.normalize import normalize_for_match

        rows = _table_rows(text)
        self.units = rows if rows is not None else [s.strip() for s in _split(text) if s.strip()]
        # what the tokens are cut from, normalised in one call (no sentence or row holds a newline)
        self.forms = normalize_for_match("\n".join(self.units)).split("\n") if self.units else []
        self._tokens: list[frozenset[str] | None] = [None] * len(self.units)
        self.text = text
        self._lang: str | None = None
        self._substrings: dict[str, list[int]] = {}
        self._stored = Counter(tokens.split()) if tokens is not None and rows is None else None
        self.given = tokens is not None

    @classmethod
    def of(cls, text: str, tokens: str | None = None) -> "Passage":
        """The passage of ``text``, made once while it is among the last ``KEEP`` (with its stored
        ``tokens`` when given: a passage first judged without them is made again with them)."""
        with cls._lock:
            found = cls._recent.get(text)
            if found is not None and (tokens is None or found.given):
                cls._recent.move_to_end(text)
                return found
        made = cls(text, tokens)
        with cls._lock:
            cls._recent[text] = made
            while len(cls._recent) > cls.KEEP:
                cls._recent.popitem(last=False)
        return made

    def tokens(self, i: int) -> frozenset[str]:
        """The lexical tokens of sentence ``i``, tokenised on first use."""
        found = self._tokens[i]
        if found is None:
            from zhiku.text.normalize import lexical_tokens

            found = self._tokens[i] = frozenset(lexical_tokens(self.units[i]))
        return found

    @property
    def lang(self) -> str:
        """The passage's language (``detect_lang``)."""
        lang = self._lang
        if lang is None:
            from zhiku.text.normalize import detect_lang

            lang = self._lang = detect_lang(self.text)
        return lang

    @property
    def tokenised(self) -> int:
        """How many of the passage's sentences have been tokenised so far."""
        return sum(1 for t in self._tokens if t is not None)

    def vocabulary(self) -> set[str]:
        """Every word among the passage's tokens."""
        if self._stored is not None:
            return set(self._stored)
        return set().union(*(self.tokens(i) for i in range(len(self.units))))

    def held(self, words: frozenset[str]) -> list[frozenset[str]]:
        """For each sentence, the ``words`` among its tokens."""
        stored = self._stored
        if stored is None:
            return [self.tokens(i) & words for i in range(len(self.units))]
        out: list[set[str]] = [set() for _ in self.units]
        for word in words:
            count = stored.get(word)
            if not count:
                continue
            found = self._found(word)
            seen = sum(found)
            if seen < count:  # the stored tokens are not this text's
                self._stored = None
                return self.held(words)
            if seen > count:
                found = self._unexplained(word, found)
                if sum(found) != count or min(found) < 0:  # still more than the tokens: tokenise those sentences
                    for i, n in enumerate(self._found(word)):
                        if n and word in self.tokens(i):
                            out[i].add(word)
                    continue
            for i, n in enumerate(found):
                if n:
                    out[i].add(word)
        return [frozenset(h) for h in out]

    def _found(self, word: str) -> list[int]:
        """How often each sentence holds the word's probe (:func:`_probe`): at least as often as it
        holds the word as a token."""
        found = self._substrings.get(word)
        if found is None:
            probe = _probe(word)
            found = self._substrings[word] = [form.count(probe) for form in self.forms]
        return found

    def _unexplained(self, word: str, found: list[int]) -> list[int]:
        """``found`` less the substrings that lie inside the passage's other tokens whose sentences are
        known (``中`` inside each ``中国``): still at least the word's tokens in each sentence."""
        assert self._stored is not None
        probe = _probe(word)
        out = list(found)
        for other, count in self._stored.items():
            if other == word:
                continue
            inside = _probe(other).count(probe)
            if inside:
                theirs = self._found(other)
                if sum(theirs) == count:
                    out = [a - inside * b for a, b in zip(out, theirs)]
        return out


def _probe(word: str) -> str:
    """What a sentence holding ``word`` as a token holds as a substring: the word, or for a stemmed
    English word ending in ``y`` (``studies`` → ``study``) the stem without it; every other stem is
    the start of its word (``zhiku.text.normalize.stem_en``)."""
    return word[:-1] if word[-1] == "y" and len(word) > 1 and _ALPHA.fullmatch(word) else word


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


def bridged_coverage(question: str, text: str, tokens: str | None = None) -> float:
    """:func:`sentence_coverage` across languages: a Chinese question's words looked for in an
    English sentence through their CC-CEDICT glosses (a word split into dictionary words counts
    by the share of its pieces found), an English question's words among the glosses of a Chinese
    sentence's words (``zhiku.text.bridge``)."""
    from zhiku.text.sentences import question_parts

    passage = Passage.of(text, tokens)
    return max(_part_bridged(part, passage) for part in question_parts(question))


def _part_bridged(question: str, passage: Passage) -> float:
    from zhiku.text.bridge import UNGLOSSED, gloss_pieces, glossed, held_share
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
    if chinese:  # the English stems the question's words may be found as
        words = frozenset(stem for t in weights for piece in gloss_pieces(t) for stem in piece)
    else:  # the passage's words that are the question's words or gloss one of them
        words = frozenset(w for w in passage.vocabulary()
                          if w in weights or any(t in piece for piece in gloss_pieces(w) for t in weights))

    def share(i: int, held: frozenset[str]) -> float:
        if chinese:
            return sum(w * held_share(t, held) for t, w in weights.items()) / total
        english = glossed(set(held))
        return sum(w for t, w in weights.items() if t in english) / total

    return _best_unit(passage, words, _numbers(weights), share)


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
    rows = _table_rows(text)
    if rows is not None:
        return rows
    return [s.strip() for s in _split(text) if s.strip()]


def _split(text: str) -> list[str]:
    from zhiku.text.sentences import split_sentences

    return split_sentences(text)


def _bigrams(text: str) -> set[str]:
    """Character bigrams of the Chinese runs (word overlap that does not depend on segmentation),
    question words left out."""
    out: set[str] = set()
    for run in _HAN_RUN.findall(text):
        out.update(map(operator.add, run, run[1:]))
    return out - _QUESTION_GRAMS
