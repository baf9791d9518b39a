"""Text normalisation and tokens for lexical (BM25) matching.

Only the lexical index sees these forms; stored chunk text stays as written.
``normalize_for_match`` folds away differences a reader does not care about
(full-width vs half-width, case, Traditional vs Simplified Chinese), so a
question typed in one form finds a passage written in the other.

``lexical_tokens`` = normalise → jieba precise mode (``lcut``, HMM on; ``zhiku.text.segment``) → drop
whitespace, punctuation and a few stopwords → light English stemming.

Measured on ../shared/data/eval (300 questions each, whole passages, BM25
k1=1.5 b=0.75; R@1 / R@5): precise mode drcd .910/.990, xquad_zh .940/.987.
Expanding Chinese words of 3+ characters into character bigrams (.907/.997,
.917/.990) or into ``cut_for_search`` sub-words (.910/.993, .933/.990), on both
sides or on the passage side only, moved R@1 by a few questions either way;
adding character unigrams (.920/.997, .943/.983) doubled the postings and made
queries 3-4x slower at 100k chunks. None beat plain precise mode beyond noise,
so the simplest won. Without HMM: drcd .903; without Traditional→Simplified
R@5 drops .990 → .977; the stemmer lifts pubmedqa R@1 .967 → .983.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

_lock = threading.Lock()
_converter: Any = None
_segmenter: Any = None

# Function words that carry no topic. Kept short on purpose: every word here is
# one a passage and a question share by accident, or a question word ("什么",
# "what") that no passage contains and that would otherwise inflate the query's
# IDF weight and make every passage look like it misses part of the question.
ZH_STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 也 都 就 而 被 把 这 那 之 其 为 着 过 于 以 由 从 向 对 吗 呢 吧 啊 "
    "什么 怎么 怎样 如何 哪 哪个 哪些 哪里 哪儿 谁 几 多少 为什么 是否 有没有 请问".split()
)
EN_STOPWORDS = frozenset(
    "the a an of to is are was were be been being in on at by for with as and or but it its "
    "this that these those what which who whom whose where when why how do does did "
    "s t".split()
)
STOPWORDS = ZH_STOPWORDS | EN_STOPWORDS

_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
_LETTER_RE = re.compile(r"[^\W\d_]")
_ASCII_WORD_RE = re.compile(r"[a-z]+")


def _get_converter() -> Any:
    global _converter
    if _converter is None:
        with _lock:
            if _converter is None:
                import opencc

                _converter = opencc.OpenCC("t2s")
    return _converter


def _get_segmenter() -> Any:
    """jieba's precise mode over a compact copy of its dictionary (``zhiku.text.segment``: the same
    tokens, ~5 MB resident instead of jieba's ~60 MB dict of words and prefixes)."""
    global _segmenter
    if _segmenter is None:
        with _lock:
            if _segmenter is None:
                from zhiku.text import segment

                _segmenter = segment.load()
    return _segmenter


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese (OpenCC t2s); other scripts pass through."""
    if not _CJK_RE.search(text):
        return text
    return str(_get_converter().convert(text))


def normalize_for_match(text: str) -> str:
    """NFKC, case folding and Traditional→Simplified: the form the lexical index compares."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return to_simplified(text)


def stem_en(word: str) -> str:
    """A tiny suffix stripper (plurals, -ing, -ed, final -e): "indexes", "indexing" → "index".

    Not a real stemmer: it only has to send the common inflections of one word to
    one key ("create", "created", "creating" → "creat").
    """
    n = len(word)
    if n <= 3:
        return word
    if word.endswith("ies") and n > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    elif word.endswith("ing") and n > 5:
        word = _undouble(word[:-3])
    elif word.endswith("eed"):
        word = word[:-1]
    elif word.endswith("ed") and n > 4:
        word = _undouble(word[:-2])
    if len(word) > 3 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]
    return word


def _undouble(stem: str) -> str:
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    return stem


def _is_word(tok: str) -> bool:
    for ch in tok:
        if ch.isalnum():
            return True
    return False


def lexical_tokens(text: str) -> list[str]:
    """Tokens for BM25: normalised, segmented, without punctuation and stopwords."""
    out: list[str] = []
    for tok in _get_segmenter().cut(normalize_for_match(text)):
        if tok in STOPWORDS or not _is_word(tok):
            continue
        if _ASCII_WORD_RE.fullmatch(tok):
            out.append(stem_en(tok))
            continue
        out.append(tok)
    return out


@lru_cache(maxsize=512)
def question_tokens(question: str) -> tuple[str, ...]:
    """``lexical_tokens`` of a question, remembered for the recent ones: a chat's search and its refusal
    verdict tokenise the same question (jieba: a tenth of a search's time)."""
    return tuple(lexical_tokens(question))


def detect_lang(text: str) -> str:
    """"zh" when CJK ideographs are a meaningful share of the letters, else "en".

    An ideograph carries about as much as three Latin letters, so ideographs are
    weighed against other letters / 3; "zh" from a 30% share. One Chinese name in
    an English page stays "en"; a Chinese manual full of English identifiers is "zh".
    """
    sample = text[:4000]
    cjk = len(_CJK_RE.findall(sample))
    if cjk == 0:
        return "en"
    others = len(_LETTER_RE.findall(sample)) - cjk
    return "zh" if cjk >= 0.3 * (cjk + max(others, 0) / 3) else "en"
