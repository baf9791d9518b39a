"""Spreadsheets (.xlsx, .xls) and delimited text (.csv, .tsv) as markdown tables.

Each sheet's rows become table blocks of at most 50 data rows, every one repeating
the header row; ``meta["sheet"]`` and ``section`` name the sheet, ``meta["rows"]``
the spreadsheet rows ("2-51"). Title lines above a table become a text block.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from zhiku.errors import LoadError
from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.limits import checkpoint
from zhiku.ingest.loaders.encoding import clean_text
from zhiku.ingest.loaders.tables import cell_text, table_blocks
from zhiku.ingest.loaders.text import read_text

log = logging.getLogger(__name__)

_DELIMITERS = (",", ";", "\t", "|")
csv.field_size_limit(64 * 1024 * 1024)


def _sheet_blocks(name: str, rows: Iterable[tuple[int, Sequence[str]]]) -> list[Block]:
    return table_blocks(list(rows), section=(name,), meta={"sheet": name})


def _cells(values: Iterable[Any]) -> list[str]:
    return [clean_text(cell_text(v)) for v in values]


@register("xlsx", (".xlsx", ".xlsm"))
def load_xlsx(path: Path) -> LoadedDocument:
    from openpyxl import load_workbook

    # openpyxl is handed the open file, never the path: given a name it insists on an .xlsx/.xlsm
    # suffix, and the copies zhiku stores and stages are named by id (the format came from the
    # uploaded name and the content, see load_file); in read-only mode it reads the file lazily
    fh = path.open("rb")
    blocks: list[Block] = []
    names: list[str] = []
    try:
        wb = load_workbook(fh, read_only=True, data_only=True)
    except BaseException:
        fh.close()
        raise
    try:
        for ws in wb.worksheets:
            names.append(ws.title)
            rows: list[tuple[int, list[str]]] = []
            number = 0
            for row in ws.iter_rows():
                checkpoint()
                number += 1
                real = next((c.row for c in row if getattr(c, "row", None)), None)
                number = real or number
                cells = _cells(c.value for c in row)
                if any(cells):
                    rows.append((number, cells))
            blocks.extend(_sheet_blocks(ws.title, rows))
        title = (wb.properties.title or "").strip() or None if wb.properties else None
    finally:
        wb.close()
        fh.close()
    return LoadedDocument(blocks, title=title, meta={"sheets": names})


def _xls_value(cell: Any, datemode: int) -> Any:
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate_as_datetime(cell.value, datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return cell.value
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    if cell.ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(cell.value, "#ERROR")
    return cell.value


class _XlrdLog:
    """xlrd writes its warnings to stdout unless given a file; send them to logging."""

    def write(self, text: str) -> None:
        if text.strip():
            log.debug("xlrd: %s", text.strip())

    def flush(self) -> None:
        pass


@register("xls", (".xls",))
def load_xls(path: Path) -> LoadedDocument:
    import xlrd

    try:
        book = xlrd.open_workbook(str(path), on_demand=True, logfile=_XlrdLog())
    except xlrd.XLRDError as e:
        if "encrypt" in str(e).lower():
            raise LoadError("password-protected Excel file", reason="encrypted") from e
        raise LoadError(f"damaged or unsupported Excel 97-2003 file ({e})") from e
    blocks: list[Block] = []
    names: list[str] = []
    try:
        for index in range(book.nsheets):
            sheet = book.sheet_by_index(index)
            names.append(sheet.name)
            rows = (
                (r + 1, _cells(_xls_value(c, book.datemode) for c in sheet.row(r)))
                for r in range(sheet.nrows)
            )
            blocks.extend(_sheet_blocks(sheet.name, rows))
            book.unload_sheet(index)
    finally:
        book.release_resources()
    return LoadedDocument(blocks, meta={"sheets": names})


def sniff_delimiter(sample: str, default: str = ",") -> str:
    """The delimiter that splits the sample's lines into the most consistent columns."""
    lines = [ln for ln in sample.split("\n")[:50] if ln.strip()]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]  # the sample may have cut the last line
    best, best_score = default, (0.0, 0, 0)
    for delim in _DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delim)]
        except csv.Error:
            continue
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        consistency = counts.count(mode) / len(counts)
        score = (round(consistency, 2), int(delim == default), mode)
        if score > best_score:
            best, best_score = delim, score
    return best


def _space_aligned(text: str) -> list[tuple[int, list[str]]] | None:
    """Rows of a "tsv" whose columns are lined up with runs of spaces ("a   b   c"), or None."""
    rows = [(i, re.split(r"\s{2,}", line.strip())) for i, line in enumerate(text.splitlines(), 1)
            if line.strip()]
    counts = [len(r) for _, r in rows]
    if not counts or min(counts) < 2 or counts.count(counts[0]) < 0.8 * len(counts):
        return None
    return rows


@register("csv", (".csv", ".tsv", ".tab"))
def load_csv(path: Path) -> LoadedDocument:
    text = read_text(path)
    default = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    delim = sniff_delimiter(text[:20000], default)
    try:
        rows = [(i, row) for i, row in enumerate(csv.reader(io.StringIO(text), delimiter=delim), 1)]
    except csv.Error as e:
        raise LoadError(f"malformed CSV ({e})") from e
    if all(len(r) < 2 for _, r in rows):
        aligned = _space_aligned(text)
        if aligned is not None:
            rows, delim = aligned, "spaces"
    blocks = table_blocks(rows, meta={"delimiter": delim})
    return LoadedDocument(blocks, meta={"delimiter": delim})
