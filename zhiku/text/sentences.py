"""Sentences: where one ends in Chinese and English text.

A sentence ends at 。！？；… and at . ! ? ; followed by a space, closing quotes kept with their
sentence, "e.g."/"3.14"/"J. Smith" left whole. ``LEVELS`` are the boundaries the splitter tries
from the coarsest (paragraphs, sentences, lines, clauses, spaces).
"""

from __future__ import annotations

import re
from typing import Any

_CLOSERS = "”’」』）)\\]】》\"'"
_SENT_RE = re.compile(rf"(?:[。！？；]+|…+|[!?]+|;|\.+)[{_CLOSERS}]*")
_CJK_END = frozenset("。！？；…")
_CJK_RE = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
_PARA_RE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_LINE_RE = re.compile(r"\n")
_CLAUSE_RE = re.compile(rf"(?:[，、：]|[,:](?=\s))[{_CLOSERS}]*")
_SPACE_RE = re.compile(r"\s+")
_ABBREV = frozenset(
    "e.g i.e etc vs cf al mr mrs ms dr prof st jr sr inc ltd co corp fig figs no nos vol pp ed eds "
    "approx dept est jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k a.m p.m".split()
)

# ---- boundaries ------------------------------------------------------------------------------
def _sentence_bounds(text: str, lo: int, hi: int) -> list[int]:
    """Offsets in [lo, hi) right after a sentence end."""
    out = []
    for m in _SENT_RE.finditer(text, lo, hi):
        term = m.group()
        after = m.end()
        nxt = text[after] if after < hi else ""
        if term[0] in _CJK_END:
            out.append(after)
            continue
        space_next = nxt == "" or nxt.isspace()
        if term[0] in "!?":
            if space_next or _CJK_RE.match(nxt):
                out.append(after)
        elif term[0] == ";" or len(term.rstrip(_CLOSERS)) >= 3:  # ";" or "..."
            if space_next:
                out.append(after)
        elif space_next and not _keeps_period(text, lo, m.start()):
            out.append(after)
    return out


def _keeps_period(text: str, lo: int, dot: int) -> bool:
    """True when the period at ``dot`` ends an abbreviation, an initial or a list number."""
    i = dot
    while i > lo and (text[i - 1] == "." or (text[i - 1].isascii() and text[i - 1].isalnum())):
        i -= 1
    word = text[i:dot]
    if not word:
        return False
    if word.lower() in _ABBREV or (len(word) == 1 and word.isalpha() and word.isupper()):
        return True
    if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", word):  # U.S / e.g written without the last dot
        return True
    return word.isdigit() and len(word) <= 2 and (i == lo or text[i - 1] == "\n")  # "1. item"


def _regex_bounds(pattern: re.Pattern[str]) -> Any:
    return lambda text, lo, hi: [m.end() for m in pattern.finditer(text, lo, hi)]


LEVELS = (
    _regex_bounds(_PARA_RE),
    _sentence_bounds,
    _regex_bounds(_LINE_RE),
    _regex_bounds(_CLAUSE_RE),
    _regex_bounds(_SPACE_RE),
)


def trim(text: str, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi



def split_sentences(text: str) -> list[str]:
    """Sentences (and lines) of ``text``, punctuation and closing quotes kept, whitespace trimmed."""
    out = []
    for plo, phi in _pieces(text, 0, len(text), LEVELS[0]):
        for slo, shi in _pieces(text, plo, phi, _sentence_bounds):
            for llo, lhi in _pieces(text, slo, shi, LEVELS[2]):
                out.append(text[llo:lhi])
    return out


def _pieces(text: str, lo: int, hi: int, bounds: Any) -> list[tuple[int, int]]:
    cuts = [c for c in bounds(text, lo, hi) if lo < c < hi]
    spans = (trim(text, a, b) for a, b in zip([lo, *cuts], [*cuts, hi]))
    return [(a, b) for a, b in spans if a < b]


def sentence_starts(text: str, lo: int, hi: int) -> list[int]:
    """Where whole sentences (or lines) begin inside [lo, hi)."""
    cuts = sorted(set(_sentence_bounds(text, lo, hi)) | set(LEVELS[2](text, lo, hi)))
    return [a for a, b in (trim(text, c, hi) for c in cuts) if lo < a < b]


_PART_RE = re.compile(r"(?<=[？?])")
MAX_PARTS = 4


def question_parts(query: str) -> list[str]:
    """The questions a query asks one after another ("首批坦克何时运抵？费用是多少？"): split after each
    question mark, parts of fewer than 4 characters kept with the one before; ``[query]`` when it
    asks one question (or more than ``MAX_PARTS``: a list of questions is not one question)."""
    parts: list[str] = []
    for piece in _PART_RE.split(query):
        piece = piece.strip()
        if not piece:
            continue
        if parts and (len(piece) < 4 or len(parts[-1]) < 4):
            parts[-1] += piece
        else:
            parts.append(piece)
    return parts if 2 <= len(parts) <= MAX_PARTS else [query]

