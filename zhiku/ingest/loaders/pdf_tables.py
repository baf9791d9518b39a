"""Ruled tables of PDF pages, through pdfplumber.

Pages that draw lines or rectangles are handed to pdfplumber; each ruled table becomes
a table run (``Seg.table_rows``) that the layout turns into a markdown ``kind="table"``
block. Merged cells repeat their text in every slot they cover, so every row reads on
its own; tables of one row, one column, or two rows of two cells (a booktabs rule read
as a grid) are not tables. Tables drawn without rules are found later from the
alignment of the text (``aligned_tables``).
"""

from __future__ import annotations

import logging
from typing import Any

from zhiku.ingest.loaders.pdf_layout import Seg, join_text
from zhiku.ingest.loaders.pdf_text import normalize_pdf_text

log = logging.getLogger(__name__)


def _fill_table(table: Any) -> list[list[str]]:
    """A pdfplumber table's rows, merged cells repeating their text in every slot."""
    data = table.extract()
    rows = table.rows
    texts: dict[tuple[float, ...], str] = {}
    for r, row in enumerate(rows):
        for c, bbox in enumerate(row.cells):
            if bbox is not None and r < len(data) and c < len(data[r]):
                texts[tuple(bbox)] = _cell(data[r][c])
    cells = [tuple(c) for c in table.cells]
    columns = [col.bbox for col in table.columns] if hasattr(table, "columns") else []
    out: list[list[str]] = []
    for r, row in enumerate(rows):
        line = []
        for c, bbox in enumerate(row.cells):
            if bbox is not None:
                line.append(texts.get(tuple(bbox), ""))
                continue
            text = ""
            if c < len(columns):
                cx = (columns[c][0] + columns[c][2]) / 2
                cy = (row.bbox[1] + row.bbox[3]) / 2
                for cell in cells:
                    if cell[0] <= cx <= cell[2] and cell[1] <= cy <= cell[3]:
                        text = texts.get(cell, "")
                        break
            line.append(text)
        out.append(line)
    return out


def _cell(value: Any) -> str:
    text = normalize_pdf_text(str(value or ""))
    out = ""
    for line in text.splitlines():
        out = join_text(out, line.strip())
    return out


def page_tables(plumber: Any, number: int, runs: list[Seg]) -> tuple[list[Seg], list[Seg]]:
    """Ruled tables of page ``number`` (pdfplumber) as table runs, and the page's runs
    less those the tables cover."""
    try:
        ppage = plumber.pages[number - 1]
        found = ppage.find_tables()
    except Exception:
        log.debug("pdfplumber failed on page %d", number, exc_info=True)
        return [], runs
    out: list[Seg] = []
    for table in found:
        try:
            rows = _fill_table(table)
        except Exception:  # noqa: BLE001
            continue
        rows = [r for r in rows if any(c for c in r)]
        width = max((sum(1 for c in r if c) for r in rows), default=0)
        if len(rows) < 2 or width < 2 or (len(rows) == 2 and width < 3):
            continue
        x0, top, x1, bottom = table.bbox
        out.append(Seg("", x0, top, x1, bottom, table="", table_rows=rows))
    if out:
        def inside(s: Seg) -> bool:
            cx, cy = (s.x0 + s.x1) / 2, (s.top + s.bottom) / 2
            return any(t.x0 <= cx <= t.x1 and t.top <= cy <= t.bottom for t in out)

        runs = [s for s in runs if not inside(s)]
    try:
        ppage.close()
    except Exception:  # noqa: BLE001
        pass
    return out, runs
