"""Tables as markdown, shared by the sheet, CSV, Word, PowerPoint and HTML loaders.

Every table block starts with its header row, so a chunk cut from the middle of a
big sheet still says what its columns mean.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from zhiku.ingest.loaders.base import Block

MAX_TABLE_ROWS = 50


def cell_text(value: Any) -> str:
    """One cell value as display text (integral floats without ".0", dates in ISO form)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


def _md_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown (GFM) table; short rows are padded, long ones keep their cells."""
    width = max(1, len(header), *(len(r) for r in rows))

    def line(cells: Sequence[str]) -> str:
        padded = [_md_cell(c) for c in cells] + [""] * (width - len(cells))
        return "| " + " | ".join(padded) + " |"

    out = [line(header), "| " + " | ".join(["---"] * width) + " |"]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def _nonempty(cells: Sequence[str]) -> int:
    return sum(1 for c in cells if c.strip())


def table_blocks(
    rows: Sequence[tuple[int, Sequence[str]]],
    *,
    section: tuple[str, ...] = (),
    page: int | None = None,
    meta: dict[str, Any] | None = None,
    max_rows: int = MAX_TABLE_ROWS,
    captions: bool = True,
) -> list[Block]:
    """Blocks for one table given as ``(row_number, cells)`` pairs.

    Empty rows and columns are dropped. With ``captions``, leading rows that hold a
    single value above a wider table (a sheet's title lines) become a text block
    instead of being taken for the header. A one-column table becomes text lines.
    Each table block holds at most ``max_rows`` data rows plus the header, and
    ``meta["rows"]`` gives the first and last data row numbers ("2-51").
    """
    meta = dict(meta or {})
    kept = [(n, [c.strip() for c in cells]) for n, cells in rows if _nonempty(cells)]
    if not kept:
        return []
    width = max(len(c) for _, c in kept)
    used = [i for i in range(width) if any(i < len(c) and c[i] for _, c in kept)]
    kept = [(n, [c[i] if i < len(c) else "" for i in used]) for n, c in kept]

    def block(kind: str, text: str, first: int, last: int) -> Block:
        where = str(first) if first == last else f"{first}-{last}"
        return Block(text, kind=kind, page=page, section=section, meta={**meta, "rows": where})

    blocks: list[Block] = []
    if len(used) == 1:
        for i in range(0, len(kept), max_rows):
            part = kept[i : i + max_rows]
            blocks.append(block("text", "\n".join(c[0] for _, c in part), part[0][0], part[-1][0]))
        return blocks
    start = 0
    if captions and any(_nonempty(c) >= 2 for _, c in kept):
        while _nonempty(kept[start][1]) < 2:
            start += 1
    if start:
        caption = "\n".join(" ".join(x for x in c if x) for _, c in kept[:start])
        blocks.append(block("text", caption, kept[0][0], kept[start - 1][0]))
    head_no, header = kept[start]
    data = kept[start + 1 :]
    if not data:
        blocks.append(block("table", markdown_table(header, []), head_no, head_no))
        return blocks
    for i in range(0, len(data), max_rows):
        part = data[i : i + max_rows]
        text = markdown_table(header, [c for _, c in part])
        blocks.append(block("table", text, part[0][0], part[-1][0]))
    for b in blocks:
        if b.kind == "table":
            b.meta["header_row"] = head_no
    return blocks
