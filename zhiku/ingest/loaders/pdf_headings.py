"""Which lines of a page are headings: font size and weight against the body's, and not a byline.

``HeadingLevels`` ranks the font sizes clearly larger than the body text (level 1 the
largest); a bold line at body size standing alone is one level below them. Lines that
read like a paper's author or affiliation lines ("Vladimir Karpukhin∗, Barlas Oğuz∗,
Sewon Min†", "{vladk, plewis}@fb.com") are never headings, however bold or large; nor
are lines of three pieces far apart (side-by-side text flows of a magazine page) or
long sentences in a large font (pull quotes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SENT_END = tuple("。！？；：.!?;:")
_NO_HEADING_END = tuple("。，、；,;")
_MARKS = re.compile(r"[∗*†‡§¶⋆]|(?<=[a-z\u4e00-\u9fff])\d{1,2}(?=\s*(?:[,，、;]|and\b|$))")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+|@[\w-]+\.(?:com|edu|org|net|cn|ac)\b")
_PARTS = re.compile(r"\s*(?:[,，、;；]|\band\b|&)\s*")
_NAME_TOKEN = re.compile(r"^(?:[A-Z][\w'’.-]*|[A-Z]\.|van|von|de|der|da|di|le|la|bin|al)$")
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff]{2,4}$")


def _is_name(part: str) -> bool:
    words = part.split()
    if len(words) == 1 and _CJK_NAME.match(words[0]):
        return True
    return 1 <= len(words) <= 4 and all(_NAME_TOKEN.match(w) for w in words)


def looks_like_byline(text: str) -> bool:
    """True for a line of authors or affiliations: an e-mail address, footnote marks
    after names ("Min†", "Chen1,", "张三1，"), or three or more comma-separated full names."""
    t = " ".join(text.split())
    if _EMAIL.search(t):
        return True
    parts = [p for p in _PARTS.split(_MARKS.sub("", t)) if p.strip()]
    names = [p for p in parts if _is_name(p)]
    # a full name: two or more words, or a Chinese name
    full = [p for p in names if len(p.split()) >= 2 or _CJK_NAME.match(p.strip())]
    if _MARKS.search(t) and len(names) >= max(1, len(parts) - 1) and full:
        return True
    # without marks only Latin full names count: "总则，范围，定义" is a heading, not three people
    latin = [p for p in full if len(p.split()) >= 2]
    return len(parts) >= 3 and len(names) == len(parts) and len(latin) >= 3


class HeadingLevels:
    """Heading level from font size (and weight), given the body size of the document."""

    def __init__(self, body: float, sizes: Sequence[float], ratio: float = 1.15) -> None:
        self.body = body
        self.ratio = ratio
        bigger = sorted({round(s * 2) / 2 for s in sizes if s >= body * ratio}, reverse=True)
        self.levels = {s: min(i + 1, 6) for i, s in enumerate(bigger[:5])}
        self.bold_level = min(len(self.levels) + 1, 6)

    def level(self, size: float, bold: bool, text: str, alone: bool) -> int | None:
        t = text.strip()
        if (not t or len(t) > 120 or t.endswith(_NO_HEADING_END) or not re.search(r"[^\W\d_]", t)
                or looks_like_byline(t)):
            return None
        if len(re.findall(r"\S {2,}\S", t)) >= 2:
            return None  # three pieces far apart on one line: side-by-side text flows, a form
        if t.endswith(".") and len(t.split()) > 10:
            return None  # a sentence in a large font (a pull quote), not a title
        if size >= self.body * self.ratio:
            key = round(size * 2) / 2
            near = min(self.levels, key=lambda k: abs(k - key), default=None)
            return self.levels.get(key) or (self.levels[near] if near else 1)
        if bold and alone and abs(size - self.body) <= 0.1 * self.body and len(t) <= 60:
            if t.endswith(_SENT_END) and not t.endswith(":"):
                return None
            return self.bold_level
        return None


#: a heading-like line at the same place on this many pages is page furniture
REPEAT_PAGES = 3
#: display type (this many times the body size) repeated word for word on REPEAT_PAGES pages,
#: wherever it stands, is a title or stamp on covers and dividers, not a section
DISPLAY_RATIO = 1.5


def _repeat_key(text: str, x0: float, top: float) -> tuple[str, int, int]:
    return re.sub(r"\d+", "#", "".join(text.lower().split())), round(x0 / 8), round(top / 8)


def drop_repeated_headings(pages: Sequence[list], body: float, ratio: float = 1.15) -> tuple[list[list], int]:
    """Runs that would read as headings (larger than the body text, or bold) and stand at the
    same place on ``REPEAT_PAGES`` or more pages (a running header outside the margins), or
    display type repeated word for word on as many pages wherever it stands (a book's title or
    a stamp on its covers and dividers: "MAO TSE-TUNG", "FROM MARX / TO MAO"). Left in, each
    becomes a heading that stays on the section path of every chunk after it, and a chunk of
    one word of its own. Returns the pages' runs without them, and how many went."""
    if body <= 0 or sum(1 for p in pages if p) < REPEAT_PAGES:
        return list(pages), 0

    def heading_like(s: object) -> bool:
        size = getattr(s, "size", 0.0)
        return bool(size >= body * ratio or (getattr(s, "bold", False) and size >= body * 0.9))

    def display(s: object) -> bool:
        return bool(getattr(s, "size", 0.0) >= body * DISPLAY_RATIO)

    seen: dict[tuple[str, int, int], int] = {}
    seen_display: dict[str, int] = {}
    for runs in pages:
        keys = {_repeat_key(s.text, s.x0, s.top) for s in runs if heading_like(s)}
        for k in keys:
            if re.search(r"[^\W\d_]", k[0]):
                seen[k] = seen.get(k, 0) + 1
        for t in {"".join(s.text.lower().split()) for s in runs if display(s)}:
            seen_display[t] = seen_display.get(t, 0) + 1
    repeated = {k for k, n in seen.items() if n >= REPEAT_PAGES}
    repeated_display = {t for t, n in seen_display.items() if n >= REPEAT_PAGES}
    if not repeated and not repeated_display:
        return list(pages), 0

    def furniture(s: object) -> bool:
        text, x0, top = getattr(s, "text", ""), getattr(s, "x0", 0.0), getattr(s, "top", 0.0)
        return (heading_like(s) and _repeat_key(text, x0, top) in repeated) or (
            display(s) and "".join(text.lower().split()) in repeated_display)

    out: list[list] = []
    removed = 0
    for runs in pages:
        keep = [s for s in runs if not furniture(s)]
        removed += len(runs) - len(keep)
        out.append(keep)
    return out, removed
