"""Page layout shared by the PDF loader and OCR: positioned text runs → blocks a person would read.

Input is a list of ``Seg`` (a run of text on one line with its box, top-down
coordinates: PDF points or image pixels). The steps:

1. **Columns.** A page is two-column when a vertical gutter near the middle is
   crossed by no text run except full-width ones (titles, figures' captions); those
   cut the page into bands, and each band is read left column first, then right.
2. **Rows.** Runs whose vertical extents overlap are one line, read left to right
   (joined without a space between CJK characters).
3. **Paragraphs.** A new paragraph starts after a larger gap than the page's usual
   line pitch, at an indented line, after a short line ending a sentence, or where
   the font size changes.
4. **Headings.** A short line in a clearly larger font than the body (or bold at body
   size, standing alone) is a heading; its level comes from its size rank
   (``HeadingLevels``) and it is pushed on the section path.
5. **Tables** arrive as runs whose ``table`` holds markdown (the PDF loader gets them
   from pdfplumber); for pictures, a ruled ``grid`` (from OCR) turns the runs inside it
   into a table.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zhiku.ingest.loaders.base import Block
from zhiku.ingest.loaders.pdf_headings import HeadingLevels
from zhiku.ingest.loaders.tables import table_blocks
from zhiku.ingest.loaders.text import SectionStack

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")
_SENT_END = tuple("。！？；：.!?;:")
#: what sticks to the word before it: closing punctuation, footnote marks ("Min†")
_ATTACHES = frozenset(",.;:!?)]}%∗†‡§¶⋆")


@dataclass
class Seg:
    """A run of text on one line; ``top`` < ``bottom`` (top-down coordinates)."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    size: float = 0.0
    bold: bool = False
    score: float | None = None  # OCR confidence
    table: str | None = None  # markdown, for a table placed at this box
    table_rows: list[list[str]] | None = None

    @property
    def height(self) -> float:
        return max(self.bottom - self.top, 0.1)


def join_text(a: str, b: str) -> str:
    """Join two pieces of one line or paragraph: no space between CJK characters,
    a hyphen at a line end joins the word."""
    if not a:
        return b
    if not b:
        return a
    if a.endswith("\xad"):
        return a[:-1] + b
    if _CJK.match(a[-1]) or _CJK.match(b[0]) or b[0] in _ATTACHES:
        return a + b
    if a.endswith("-") and len(a) > 1 and a[-2].isalpha() and b[0].islower():
        return a[:-1] + b
    return a + " " + b


def group_rows(segs: Sequence[Seg]) -> list[list[Seg]]:
    """Runs grouped into lines (vertical overlap), top to bottom, each left to right.

    A small run (a superscript ∗, a footnote mark) joins the line it sits on."""
    rows: list[list[Seg]] = []
    bands: list[tuple[float, float]] = []
    for s in sorted(segs, key=lambda s: (s.top, s.x0)):
        placed = False
        if s.table is None:
            for k in range(len(rows) - 1, max(-1, len(rows) - 4), -1):
                if rows[k][0].table is not None:
                    break
                top, bottom = bands[k]
                overlap = min(bottom, s.bottom) - max(top, s.top)
                if overlap > 0.5 * min(bottom - top, s.height):
                    rows[k].append(s)
                    if s.height >= 0.7 * (bottom - top):
                        bands[k] = (min(top, s.top), max(bottom, s.bottom))
                    placed = True
                    break
        if not placed:
            rows.append([s])
            bands.append((s.top, s.bottom))
    for r in rows:
        r.sort(key=lambda s: s.x0)
    return rows


def find_gutter(segs: Sequence[Seg], width: float) -> tuple[float, float] | None:
    """The (left, right) x of a two-column page's gutter, or None for a one-column page."""
    body = [s for s in segs if s.table is None and s.text.strip()]
    if len(body) < 8 or width <= 0:
        return None
    nbins = 200
    step = width / nbins
    cover = [0] * nbins
    for s in body:
        for i in range(max(0, int(s.x0 / step)), min(nbins, int(s.x1 / step) + 1)):
            cover[i] += 1
    lo, hi = int(nbins * 0.3), int(nbins * 0.7)
    least = min(cover[lo:hi])
    if least > 0.2 * len(body):
        return None
    best: tuple[int, int] | None = None
    i = lo
    while i < hi:
        if cover[i] == least:
            j = i
            while j < hi and cover[j] == least:
                j += 1
            if best is None or j - i > best[1] - best[0]:
                best = (i, j)
            i = j
        else:
            i += 1
    if best is None:
        return None
    a, b = best[0] * step, best[1] * step
    heights = sorted(s.height for s in body)
    if b - a < 0.4 * heights[len(heights) // 2]:
        return None
    left = [s for s in body if s.x1 <= a + step]
    right = [s for s in body if s.x0 >= b - step]
    spanning = len(body) - len(left) - len(right)
    if len(left) < 4 or len(right) < 4 or spanning > 0.3 * len(body):
        return None
    if min(s.x0 for s in left) > a - 0.2 * width or max(s.x1 for s in right) < b + 0.2 * width:
        return None
    # the columns must stand side by side on several lines, and be text, not a form
    side = sum(1 for s in left if any(r.top < s.bottom and s.top < r.bottom for r in right))
    if side < 3:
        return None
    if statistics.median(len(s.text) for s in left) < 8 or statistics.median(
        len(s.text) for s in right
    ) < 8:
        return None
    return a, b


def reading_order(segs: Sequence[Seg], width: float) -> list[tuple[int, list[Seg]]]:
    """Lines in reading order, each tagged with its region (band/column) number."""
    gutter = find_gutter(segs, width)
    if gutter is None:
        return [(0, r) for r in group_rows(segs)]
    a, b = gutter
    slack = width / 200
    out: list[tuple[int, list[Seg]]] = []
    region = 0
    left: list[Seg] = []
    right: list[Seg] = []
    span: list[Seg] = []

    def flush_columns() -> None:
        nonlocal region
        for col in (left, right):
            if col:
                region += 1
                out.extend((region, r) for r in group_rows(col))
                col.clear()

    def flush_span() -> None:
        nonlocal region
        if span:
            region += 1
            out.extend((region, r) for r in group_rows(span))
            span.clear()

    for row in group_rows(segs):
        # a line with one run across the gutter (a centred byline broken at its footnote
        # marks, a wide caption) is read whole, not split between the columns
        if any(s.table is not None or not (s.x1 <= a + slack or s.x0 >= b - slack) for s in row):
            flush_columns()
            span.extend(row)
            continue
        flush_span()
        for s in row:
            (left if s.x1 <= a + slack else right).append(s)
    flush_columns()
    flush_span()
    return out


def body_size(segs: Sequence[Seg]) -> float:
    """The most common font size, weighted by characters."""
    count: Counter[float] = Counter()
    for s in segs:
        if s.table is None and s.size > 0:
            count[round(s.size * 2) / 2] += len(s.text)
    return count.most_common(1)[0][0] if count else 0.0


@dataclass
class _Line:
    text: str
    region: int
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    scores: list[float]


def _line(region: int, row: list[Seg]) -> _Line:
    text = ""
    prev: Seg | None = None
    for s in row:
        piece = s.text.strip()
        if prev is not None and s.x0 - prev.x1 > 1.5 * max(s.height, prev.height) and text:
            text = text + "  " + piece  # a wide gap (tab stop, form field): keep it visible
        else:
            text = join_text(text, piece) if text and piece else text + piece
        prev = s
    chars = sum(len(s.text) for s in row) or 1
    size = sum(s.size * len(s.text) for s in row) / chars
    bold = sum(len(s.text) for s in row if s.bold) > chars / 2
    return _Line(
        text, region, min(s.x0 for s in row), max(s.x1 for s in row),
        min(s.top for s in row), max(s.bottom for s in row), size, bold,
        [s.score for s in row if s.score is not None],
    )


def _grid_table(segs: list[Seg], grid: tuple[list[float], list[float]]) -> list[Seg]:
    """Runs inside a ruled grid (picture tables) replaced by one table run."""
    ys, xs = grid
    top, bottom, left, right = ys[0], ys[-1], xs[0], xs[-1]
    inside: list[Seg] = []
    rest: list[Seg] = []
    for s in segs:
        cx, cy = (s.x0 + s.x1) / 2, (s.top + s.bottom) / 2
        (inside if left < cx < right and top < cy < bottom else rest).append(s)
    if len(inside) < 4:
        return segs
    cells: dict[tuple[int, int], list[Seg]] = {}
    for s in inside:
        cx, cy = (s.x0 + s.x1) / 2, (s.top + s.bottom) / 2
        r = next(i for i in range(len(ys) - 1) if ys[i] <= cy <= ys[i + 1] or i == len(ys) - 2)
        c = next(i for i in range(len(xs) - 1) if xs[i] <= cx <= xs[i + 1] or i == len(xs) - 2)
        cells.setdefault((r, c), []).append(s)
    rows = []
    for r in range(len(ys) - 1):
        row = []
        for c in range(len(xs) - 1):
            text = ""
            for line in group_rows(cells.get((r, c), [])):
                text = join_text(text, _line(0, line).text)
            row.append(text)
        rows.append(row)
    filled = [r for r in rows if sum(1 for c in r if c) >= 1]
    if len(filled) < 2 or sum(1 for c in range(len(xs) - 1) if any(r[c] for r in filled)) < 2:
        return segs
    scores = [s.score for s in inside if s.score is not None]
    table = Seg("", left, top, right, bottom, table="", table_rows=filled,
                score=sum(scores) / len(scores) if scores else None)
    return [*rest, table]


def layout_blocks(
    segs: Sequence[Seg],
    *,
    width: float,
    page: int | None = None,
    section: tuple[str, ...] = (),
    grid: tuple[list[float], list[float]] | None = None,
    levels: HeadingLevels | None = None,
    sections: SectionStack | None = None,
    table_meta: dict[str, Any] | None = None,
    size_tolerance: float = 0.15,
    aligned_tables: bool = True,
) -> list[Block]:
    """Blocks in reading order for one page (or picture) of runs; see the module docstring."""
    from zhiku.ingest.loaders.aligned_tables import find_aligned_tables

    segs = [s for s in segs if s.table is not None or s.table_rows is not None or s.text.strip()]
    if grid is not None:
        segs = _grid_table(list(segs), grid)
    if not segs:
        return []
    if levels is None:
        size = body_size(segs)
        levels = HeadingLevels(size, [s.size for s in segs if s.table is None], ratio=1.5)
    sections = sections if sections is not None else SectionStack(section)
    ordered = reading_order(segs, width)
    if aligned_tables:
        ordered = find_aligned_tables(ordered)
    pitches = [
        b[1][0].top - a[1][0].top
        for a, b in zip(ordered, ordered[1:])
        if a[0] == b[0] and a[1][0].table is None and b[1][0].table is None
        and 0 < b[1][0].top - a[1][0].top
    ]
    pitch = statistics.median(pitches) if pitches else 0.0
    region_left: dict[int, float] = {}
    region_right: dict[int, float] = {}
    for region, row in ordered:
        region_left[region] = min(region_left.get(region, 1e9), min(s.x0 for s in row))
        region_right[region] = max(region_right.get(region, -1e9), max(s.x1 for s in row))

    blocks: list[Block] = []
    para: list[_Line] = []
    n_tables = 0

    def flush() -> None:
        if not para:
            return
        text = ""
        for ln in para:
            text = join_text(text, ln.text)
        text = text.replace("\xad", "")
        first = para[0]
        level = None
        if len(para) <= 3:
            level = levels.level(first.size, all(p.bold for p in para), text, alone=True)
        meta: dict[str, Any] = {}
        scores = [x for ln in para for x in ln.scores]
        if scores:
            meta["_scores"] = scores
        if level is not None:
            path = sections.push(level, " ".join(text.split()))
            blocks.append(Block(text, kind="heading", page=page, section=path, meta=meta))
        else:
            prev = blocks[-1] if blocks else None
            if (prev is not None and prev.kind == "text" and prev.section == sections.path
                    and prev.page == page and ("_scores" in prev.meta) == bool(scores)):
                prev.text += "\n\n" + text
                if scores:
                    prev.meta["_scores"].extend(scores)
            else:
                blocks.append(Block(text, page=page, section=sections.path, meta=meta))
        para.clear()

    for region, row in ordered:
        first = row[0]
        if first.table is not None or first.table_rows is not None:
            flush()
            n_tables += 1
            rows = first.table_rows or []
            meta = dict(table_meta or {})
            if first.score is not None:
                meta["_scores"] = [first.score]
            tb = table_blocks(list(enumerate(rows, 1)), section=sections.path, page=page,
                              meta=meta, captions=False)
            blocks.extend(tb)
            continue
        line = _line(region, row)
        if not line.text.strip():
            continue
        if para:
            prev = para[-1]
            size_changed = abs(line.size - prev.size) > size_tolerance * max(line.size, prev.size, 0.1)
            gap = line.top - prev.top
            left = region_left.get(region, line.x0)
            right = region_right.get(region, line.x1)
            indent = line.x0 - left > 1.2 * line.size and prev.x0 - left < 0.5 * line.size
            room = right - prev.x1
            short = (room > 3 * max(prev.size, 1) and prev.text.rstrip().endswith(_SENT_END)) or (
                room > max(3 * prev.size, 0.25 * (right - left)))
            if (line.region != prev.region or size_changed or line.bold != prev.bold
                    or (pitch and gap > 1.45 * pitch) or gap < -line.size or indent or short):
                flush()
        para.append(line)
    flush()
    return blocks
