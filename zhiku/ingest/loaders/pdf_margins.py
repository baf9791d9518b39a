"""PDF pages before their layout: running headers, footers and page numbers in the margins, and
watermarks (large type repeated at one place on several pages), found across pages and dropped."""

from __future__ import annotations

import re
from collections import Counter

from zhiku.ingest.loaders.pdf_layout import Seg, body_size, group_rows

_MARGIN = 0.09  # top and bottom share of the page where running headers and footers live
_PAGE_NUMBER = re.compile(
    r"^\s*(?:[-–—~·•]\s*)?(?:(?:page|p\.|pag\.?|seite|página)\s*)?"
    r"(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*(?:/|of|von|de|sur)\s*\d{1,4})?(?:\s*[-–—~·•])?\s*$"
    r"|^\s*第\s*[\d一二三四五六七八九十百]+\s*页(?:\s*[，,/]?\s*共\s*\d+\s*页)?\s*$"
    r"|^\s*[\d]+\s*/\s*[\d]+\s*$",
    re.IGNORECASE,
)
#: runs this many times the body size, repeated at one place on several pages, are watermarks
WATERMARK_SIZE = 1.5


class _Page:
    __slots__ = ("chars", "garbled", "height", "image_cover", "number", "paths", "runs", "width")

    def __init__(self, number: int, width: float, height: float) -> None:
        self.number = number
        self.width = width
        self.height = height
        self.runs: list[Seg] = []
        self.paths = 0
        self.image_cover = 0.0
        self.chars = 0
        self.garbled = False


def _margin_key(text: str) -> str:
    return re.sub(r"\d+", "#", "".join(text.lower().split()))


def _margin_rows(page: _Page) -> list[list[Seg]]:
    """The lines in the top or bottom margin (at most two at each end)."""
    top_band = [s for s in page.runs if s.bottom <= page.height * _MARGIN]
    bottom_band = [s for s in page.runs if s.top >= page.height * (1 - _MARGIN)]
    return group_rows(top_band)[:2] + group_rows(bottom_band)[-2:]


def drop_watermarks(pages: list[_Page]) -> int:
    """Remove watermarks: large-type runs repeated at the same place on several pages
    ("NOT FOR COMMERCIAL DISTRIBUTION" stamped across the text); returns how many went."""
    with_text = [p for p in pages if p.runs]
    body = body_size([s for p in with_text for s in p.runs])
    if len(with_text) < 3 or not body:
        return 0

    def key(s: Seg) -> tuple[str, int, int]:
        return "".join(s.text.lower().split()), round(s.x0 / 6), round(s.top / 6)

    seen: Counter[tuple[str, int, int]] = Counter()
    for p in with_text:
        seen.update({key(s) for s in p.runs if s.size >= WATERMARK_SIZE * body})
    marks = {k for k, n in seen.items() if n >= 3 and k[0]}
    if not marks:
        return 0
    removed = 0
    for p in with_text:
        keep = [s for s in p.runs if s.size < WATERMARK_SIZE * body or key(s) not in marks]
        removed += len(p.runs) - len(keep)
        p.runs = keep
    return removed


def drop_margins(pages: list[_Page]) -> int:
    """Remove running headers/footers and page numbers; returns how many lines went."""
    with_text = [p for p in pages if p.runs]
    keys: Counter[str] = Counter()
    for p in with_text:
        seen = {_margin_key(" ".join(s.text for s in row)) for row in _margin_rows(p)}
        keys.update(k for k in seen if k)
    need = 2 if len(with_text) <= 4 else 3
    removed = 0
    for p in with_text:
        drop: set[int] = set()
        for row in _margin_rows(p):
            text = " ".join(s.text for s in row)
            if (len(with_text) >= 2 and keys[_margin_key(text)] >= need) or _PAGE_NUMBER.match(text):
                drop.update(id(s) for s in row)
                removed += 1
            else:  # "12  SELECTED WORKS" headers: a page number run beside the title
                for s in row:
                    if _PAGE_NUMBER.match(s.text) and len(row) > 1:
                        drop.add(id(s))
        if drop:
            p.runs = [s for s in p.runs if id(s) not in drop]
    return removed
