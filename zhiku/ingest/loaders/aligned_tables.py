"""Tables drawn without rules, found from how their text lines up (PDF pages and OCR'd pictures).

A page's lines (``Seg`` runs grouped into rows, in reading order) hold a table when
three or more consecutive lines of one region each break into two or more cells
(runs apart by a wide gap) and the cells stand in the same columns from line to line:
every cell overlaps exactly one column's x-range, and no two cells of a line share a
column. Guards against the usual false positives of text-alignment table finders:

* cells must be short (a table cell, not a sentence): median length at most
  ``MAX_MEDIAN_CELL`` characters;
* two columns of longer text are prose set in two columns, not a table, unless the
  cells are mostly numbers; labels ending in a colon ("To:", "Date:") are a memo's
  fields, not a table's first column;
* at least two columns must be filled on most lines, every column on half of them;
  the cells of a line are set in one font size (a headline beside a caption is two
  text flows, not a row); the rows follow each other at a steady pitch (a big
  vertical gap ends the table).

What is found becomes a table run (``Seg.table_rows``), the first line its header.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from typing import Any

from zhiku.ingest.loaders.pdf_layout import Seg, join_text

MIN_ROWS = 3
MAX_MEDIAN_CELL = 30
#: the cells of one table row are set in one size (within this ratio)
MAX_SIZE_RATIO = 1.35
#: a number, maybe with a currency, a sign, a percent or a short unit ("1,200", "5.3%", "12 kg")
_NUMERIC = re.compile(
    r"^[\s$€¥£%+\-−–(),.:/0-9０-９]*[0-9０-９][\s$€¥£%+\-−–(),.:/0-9０-９a-zA-Z万亿元]{0,4}$")

Cell = tuple[str, float, float]  # text, x0, x1


def _cells(row: Sequence[Seg]) -> list[Cell]:
    """A line's cells: its runs, those closer than a character height merged."""
    out: list[list[Any]] = []
    for s in sorted(row, key=lambda s: s.x0):
        text = s.text.strip()
        if not text:
            continue
        if out and s.x0 - out[-1][2] < 0.8 * s.height:
            out[-1][0] = join_text(out[-1][0], text)
            out[-1][2] = max(out[-1][2], s.x1)
        else:
            out.append([text, s.x0, s.x1])
    return [(t, a, b) for t, a, b in out]


def _place(cells: list[Cell], columns: list[list[float]]) -> list[int] | None:
    """The column of each cell, adding columns for cells in free space; None when a cell
    straddles two columns or two cells fall in one column."""
    placed: list[int] = []
    for _, a, b in cells:
        hits = [i for i, (c0, c1) in enumerate(columns) if a < c1 and c0 < b]
        if len(hits) > 1:
            return None
        if hits:
            placed.append(hits[0])
        else:
            columns.append([a, b])
            placed.append(len(columns) - 1)
    if len(set(placed)) != len(placed):
        return None
    for (_, a, b), i in zip(cells, placed, strict=True):
        columns[i][0], columns[i][1] = min(columns[i][0], a), max(columns[i][1], b)
    return placed


def _is_table(rows: list[list[Cell]], grid: list[dict[int, str]], n_columns: int) -> bool:
    texts = [t for r in rows for t, _, _ in r]
    if len(rows) < MIN_ROWS or n_columns < 2:
        return False
    median = statistics.median(len(t) for t in texts)
    numeric = sum(1 for t in texts if _NUMERIC.match(t)) / len(texts)
    if median > MAX_MEDIAN_CELL:
        return False
    if n_columns == 2 and median > 12 and numeric < 0.3:
        return False  # two columns of phrases: prose, a definition list
    first = [t for g in grid for c, t in sorted(g.items())[:1]]
    if sum(1 for t in first if t.endswith((":", "："))) > len(first) / 2:
        return False  # "To: | All staff": a memo's fields, a definition list
    filled = sum(1 for g in grid if len(g) >= 2)
    if any(sum(1 for g in grid if c in g) < 0.5 * len(grid) for c in range(n_columns)):
        return False  # a column empty on most lines: text flows side by side, not a table
    return filled >= 0.75 * len(grid) and (numeric >= 0.2 or median <= 16)


def _grow(ordered: list[tuple[int, list[Seg]]], i: int) -> tuple[int, Seg | None]:
    region = ordered[i][0]
    first = ordered[i][1]
    if any(s.table is not None or s.table_rows is not None for s in first):
        return i + 1, None
    columns: list[list[float]] = []
    rows: list[list[Cell]] = []
    grid: list[dict[int, str]] = []
    tops: list[float] = []
    k = i
    while k < len(ordered) and ordered[k][0] == region:
        row = ordered[k][1]
        if any(s.table is not None or s.table_rows is not None for s in row):
            break
        cells = _cells(row)
        if len(cells) < 2:
            break
        sizes = [s.size for s in row if s.size > 0]
        if sizes and max(sizes) > MAX_SIZE_RATIO * min(sizes):
            break  # a headline beside a caption: lines of separate text flows that happen to align
        top = min(s.top for s in row)
        height = max(s.height for s in row)
        if tops and top - tops[-1] > max(3.0 * height, 2.0 * statistics.median(
                [b - a for a, b in zip(tops, tops[1:])] or [top - tops[-1]])):
            break
        trial = [c[:] for c in columns]
        placed = _place(cells, trial)
        if placed is None:
            break
        columns = trial
        rows.append(cells)
        grid.append({p: t for p, (t, _, _) in zip(placed, cells, strict=True)})
        tops.append(top)
        k += 1
    if not _is_table(rows, grid, len(columns)):
        return i + 1, None
    order = sorted(range(len(columns)), key=lambda c: columns[c][0])
    table_rows = [[g.get(c, "") for c in order] for g in grid]
    segs = [s for _, row in ordered[i:k] for s in row]
    scores = [s.score for s in segs if s.score is not None]
    table = Seg("", min(s.x0 for s in segs), min(s.top for s in segs), max(s.x1 for s in segs),
                max(s.bottom for s in segs), table="", table_rows=table_rows,
                score=sum(scores) / len(scores) if scores else None)
    return k, table


def find_aligned_tables(ordered: list[tuple[int, list[Seg]]]) -> list[tuple[int, list[Seg]]]:
    """Lines in reading order (region, runs) with each borderless table replaced by one table run."""
    out: list[tuple[int, list[Seg]]] = []
    i = 0
    while i < len(ordered):
        nxt, table = _grow(ordered, i)
        if table is None:
            out.append(ordered[i])
            i += 1
        else:
            out.append((ordered[i][0], [table]))
            i = nxt
    return out
