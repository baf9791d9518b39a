"""OpenDocument (.odt .ods .odp, LibreOffice and others) through odfpy.

* .odt: headings (``text:h``, their outline level giving the section path), paragraphs, list
  items and tables (as markdown), in reading order.
* .ods: each sheet a table (``meta["sheet"]``), repeated rows and columns expanded up to the cells
  that hold something (a sheet "formatted to row 1,048,576" is not a million empty rows).
* .odp: each slide a page (``page`` = slide number), its first text frame's text as the section;
  speaker notes last with ``meta["notes"] = True``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.encoding import clean_text
from zhiku.ingest.loaders.limits import checkpoint
from zhiku.ingest.loaders.tables import markdown_table, table_blocks

_MAX_REPEAT = 10_000  # a repeated row or column counts this many times at most


def _open(path: Path) -> Any:
    from odf.opendocument import load

    return load(str(path))


def _body(doc: Any, kind: str) -> Any:
    """The document's ``office:text`` / ``office:spreadsheet`` / ``office:presentation`` as read from
    the file (odfpy's ``doc.text`` and the like are fresh elements on a loaded document)."""
    from odf import office

    found = doc.body.getElementsByType({"text": office.Text, "spreadsheet": office.Spreadsheet,
                                        "presentation": office.Presentation}[kind])
    return found[0] if found else doc.body


def _name(node: Any) -> str:
    return str(getattr(node, "qname", ("", ""))[1])


def _text(node: Any) -> str:
    from odf import teletype

    return clean_text(teletype.extractText(node)).strip()


def _attr(node: Any, ns: str, name: str) -> str | None:
    from odf.namespaces import TABLENS, TEXTNS

    value = node.attributes.get(({"table": TABLENS, "text": TEXTNS}[ns], name))
    return None if value is None else str(value)


def _rows(table: Any) -> list[list[str]]:
    """The table's cells as text, repeated rows and columns expanded, trailing empty ones dropped."""
    rows: list[list[str]] = []
    for row in table.getElementsByType(_table_row()):
        cells: list[str] = []
        for cell in row.childNodes:
            if _name(cell) not in ("table-cell", "covered-table-cell"):
                continue
            repeat = min(int(_attr(cell, "table", "number-columns-repeated") or 1), _MAX_REPEAT)
            cells.extend([_text(cell)] * repeat)
        while cells and not cells[-1]:
            cells.pop()
        repeat = min(int(_attr(row, "table", "number-rows-repeated") or 1), _MAX_REPEAT)
        rows.extend([cells] * (repeat if cells else 1))
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _table_row() -> Any:
    from odf.table import TableRow

    return TableRow


def _markdown(rows: list[list[str]]) -> str:
    rows = [r for r in rows if any(r)]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    return markdown_table(rows[0], rows[1:])


def _odt_blocks(node: Any, section: list[str]) -> Iterator[Block]:
    for child in node.childNodes:
        kind = _name(child)
        if kind == "h":
            text = _text(child)
            if not text:
                continue
            level = int(_attr(child, "text", "outline-level") or 1)
            del section[level - 1:]
            section.extend([""] * (level - 1 - len(section)))
            section.append(text)
            yield Block(text, "heading", section=tuple(s for s in section if s))
        elif kind == "p":
            text = _text(child)
            if text:
                yield Block(text, section=tuple(s for s in section if s))
        elif kind == "table":
            checkpoint()
            table = _markdown(_rows(child))
            if table:
                yield Block(table, "table", section=tuple(s for s in section if s))
        elif kind in ("list", "list-item", "section", "soft-page-break", "index-body", "table-of-content"):
            yield from _odt_blocks(child, section)


@register("odt", (".odt", ".ott"))
def load_odt(path: Path) -> LoadedDocument:
    doc = _open(path)
    blocks = list(_odt_blocks(_body(doc, "text"), []))
    title = next((b.text for b in blocks if b.kind == "heading"), None)
    return LoadedDocument(blocks=blocks, title=title)


@register("ods", (".ods", ".ots"))
def load_ods(path: Path) -> LoadedDocument:
    from odf.table import Table

    doc = _open(path)
    blocks: list[Block] = []
    for sheet in _body(doc, "spreadsheet").getElementsByType(Table):
        checkpoint()
        name = _attr(sheet, "table", "name") or ""
        rows = [(i, r) for i, r in enumerate(_rows(sheet), 1) if any(r)]
        if rows:
            blocks.extend(table_blocks(rows, section=(name,) if name else (), meta={"sheet": name}))
    return LoadedDocument(blocks=blocks)


@register("odp", (".odp", ".otp"))
def load_odp(path: Path) -> LoadedDocument:
    from odf.draw import Page

    doc = _open(path)
    blocks: list[Block] = []
    pages = _body(doc, "presentation").getElementsByType(Page)
    for n, page in enumerate(pages, 1):
        checkpoint()
        texts: list[str] = []
        notes: list[str] = []
        for frame in page.childNodes:
            kind = _name(frame)
            if kind == "notes":
                notes.extend(t for t in (_text(p) for p in _paragraphs(frame)) if t)
            elif kind == "frame":
                for inner in frame.childNodes:
                    if _name(inner) == "table":
                        table = _markdown(_rows(inner))
                        if table:
                            texts.append(table)
                    else:
                        lines = [t for t in (_text(p) for p in _paragraphs(inner)) if t]
                        if lines:
                            texts.append("\n".join(lines))
        section = (texts[0].splitlines()[0],) if texts else ()
        blocks.extend(Block(t, "table" if t.startswith("|") else "text", page=n, section=section) for t in texts)
        blocks.extend(Block(t, page=n, section=section, meta={"notes": True}) for t in notes)
    return LoadedDocument(blocks=blocks, pages=len(pages))


def _paragraphs(node: Any) -> list[Any]:
    """The paragraphs and headings under ``node``, in document order."""
    out: list[Any] = []
    for child in node.childNodes:
        if _name(child) in ("p", "h"):
            out.append(child)
        elif getattr(child, "childNodes", None):
            out.extend(_paragraphs(child))
    return out
