"""Word .docx: paragraphs and tables in document order, headings as section paths.

The body XML is walked directly (python-docx opens the package and resolves styles)
so that content controls, tracked insertions, hyperlinks and text boxes are not lost.
Heading levels come from the style ("Heading 2", "标题 2", or a style's outline level)
or the paragraph's own outline level. Page numbers are given only when Word saved its
rendered page breaks (or the document has explicit page breaks); they are estimates
and ``meta["pages_estimated"]`` says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.limits import checkpoint
from zhiku.ingest.loaders.encoding import clean_text
from zhiku.ingest.loaders.tables import table_blocks
from zhiku.ingest.loaders.text import SectionStack

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
P, TBL, TR, TC, SDT, SDT_CONTENT = (_W + t for t in ("p", "tbl", "tr", "tc", "sdt", "sdtContent"))
_T, _TAB, _BR, _CR, _DEL = (_W + t for t in ("t", "tab", "br", "cr", "del"))
_RENDERED_BREAK = _W + "lastRenderedPageBreak"
_HEADING_NAME = re.compile(
    r"^(?:heading|标题|標題|titre|überschrift|título|titolo|заголовок)\s*(\d)$", re.I
)


def _val(el: Any, tag: str) -> str | None:
    child = el.find(_W + tag) if el is not None else None
    return child.get(_W + "val") if child is not None else None


def _iter_body(el: Any) -> Iterator[Any]:
    """Paragraphs and tables under ``el`` in order, looking through content controls."""
    for child in el.iterchildren():
        if child.tag in (P, TBL):
            yield child
        elif child.tag == SDT:
            content = child.find(SDT_CONTENT)
            if content is not None:
                yield from _iter_body(content)
        elif child.tag in (_W + "customXml", _W + "ins", _W + "smartTag"):
            yield from _iter_body(child)


class _Pages:
    """Counts page breaks while walking, when the document has any worth counting."""

    def __init__(self, body: Any) -> None:
        self.rendered = next(body.iter(_RENDERED_BREAK), None) is not None
        self.explicit = any(br.get(_W + "type") == "page" for br in body.iter(_BR))
        self.enabled = self.rendered or self.explicit
        self.current = 1

    def page(self) -> int | None:
        return self.current if self.enabled else None

    def seen(self, el: Any) -> None:
        if not self.enabled:
            return
        if self.rendered:
            self.current += sum(1 for _ in el.iter(_RENDERED_BREAK))
        else:
            self.current += sum(1 for br in el.iter(_BR) if br.get(_W + "type") == "page")


def _text(el: Any, out: list[str]) -> None:
    for child in el.iterchildren():
        tag = child.tag
        if tag in (_MC_FALLBACK, _DEL) or not isinstance(tag, str):
            continue
        if tag == _T:
            out.append(child.text or "")
        elif tag == _TAB:
            out.append("\t")
        elif tag == _BR:
            out.append("\n" if child.get(_W + "type") != "page" else "")
        elif tag == _CR:
            out.append("\n")
        elif tag == P:
            out.append("\n")
            _text(child, out)
        else:
            _text(child, out)


def paragraph_text(p: Any) -> str:
    out: list[str] = []
    _text(p, out)
    return clean_text("".join(out)).strip()


def _heading_level(p: Any, doc: Any) -> int | None:
    """1-9 for headings, 0 for the Title style, None for body text."""
    ppr = p.find(_W + "pPr")
    lvl = _val(ppr, "outlineLvl")
    if lvl is not None and lvl.isdigit() and int(lvl) < 9:
        return int(lvl) + 1
    style_id = _val(ppr, "pStyle")
    style = doc.styles.element.get_by_id(style_id) if style_id else None
    for _ in range(10):
        if style is None:
            return None
        name = (style.name_val or "").strip()
        m = _HEADING_NAME.match(name)
        if m and m.group(1) != "0":
            return int(m.group(1))
        if name.lower() in ("title", "标题", "標題"):
            return 0
        lvl = _val(style.find(_W + "pPr"), "outlineLvl")
        if lvl is not None and lvl.isdigit() and int(lvl) < 9:
            return int(lvl) + 1
        based = _val(style, "basedOn")
        style = doc.styles.element.get_by_id(based) if based else None
    return None


def _is_list_item(p: Any, doc: Any) -> bool:
    """Numbered or bulleted, by the paragraph itself or its style ("List Bullet")."""
    ppr = p.find(_W + "pPr")
    if ppr is not None and ppr.find(_W + "numPr") is not None:
        return True
    style_id = _val(ppr, "pStyle")
    for _ in range(5):
        style = doc.styles.element.get_by_id(style_id) if style_id else None
        if style is None:
            return False
        sppr = style.find(_W + "pPr")
        if sppr is not None and sppr.find(_W + "numPr") is not None:
            return True
        style_id = _val(style, "basedOn")
    return False


def _cell_text(tc: Any) -> str:
    parts = []
    for el in _iter_body(tc):
        if el.tag == P:
            parts.append(paragraph_text(el))
        else:  # a nested table, flattened row by row
            for row in _table_rows(el):
                parts.append(" | ".join(c for c in row if c))
    return " ".join(p for p in parts if p)


def _table_rows(tbl: Any) -> list[list[str]]:
    """Cell texts per row; horizontal spans repeat their text, vertical merges repeat the
    cell above, so every row reads on its own."""
    rows: list[list[str]] = []
    for tr in tbl.iterchildren(TR):
        trpr = tr.find(_W + "trPr")
        before = _val(trpr, "gridBefore")
        row: list[str] = [""] * (int(before) if before and before.isdigit() else 0)
        cells = [c for c in tr.iterchildren() if c.tag == TC]
        for sdt in tr.iterchildren(SDT):
            content = sdt.find(SDT_CONTENT)
            cells.extend(content.iterchildren(TC) if content is not None else [])
        for tc in cells:
            tcpr = tc.find(_W + "tcPr")
            span = _val(tcpr, "gridSpan")
            merge = tcpr.find(_W + "vMerge") if tcpr is not None else None
            text = _cell_text(tc)
            col = len(row)
            if merge is not None and merge.get(_W + "val") in (None, "continue") and rows:
                above = rows[-1]
                text = above[col] if col < len(above) else text
            row.extend([text] * (int(span) if span and span.isdigit() else 1))
        rows.append(row)
    return rows


@register("docx", (".docx",))
def load_docx(path: Path) -> LoadedDocument:
    import docx

    doc = docx.Document(str(path))
    body = doc.element.body
    pages = _Pages(body)
    sections = SectionStack()
    blocks: list[Block] = []
    title = (doc.core_properties.title or "").strip() or None
    listing: list[str] = []
    list_page: int | None = None
    n_tables = 0
    from zhiku.ingest.loaders.pictures import PictureCollector

    pictures_ = PictureCollector()  # pictures, placed where they are drawn (pictures.py)

    def flush_list() -> None:
        if listing:
            blocks.append(Block("\n".join(listing), page=list_page, section=sections.path))
            listing.clear()

    for el in _iter_body(body):
        checkpoint()
        page = pages.page()
        if el.tag == TBL:
            flush_list()
            n_tables += 1
            rows = [(i, r) for i, r in enumerate(_table_rows(el), 1)]
            blocks.extend(
                table_blocks(rows, section=sections.path, page=page,
                             meta={"table": n_tables}, captions=False)
            )
            pages.seen(el)
            continue
        text = paragraph_text(el)
        pages.seen(el)
        pictures = _pictures(el, doc)
        if pictures:
            flush_list()
            for name, blob in pictures:
                pictures_.add(blob, name, page=page, section=sections.path, anchor=len(blocks))
        if not text:
            continue
        level = _heading_level(el, doc)
        if level is not None and len(text) <= 300:
            flush_list()
            if level == 0:
                title = title or text
                blocks.append(Block(text, kind="heading", page=page, section=sections.path))
            else:
                path_ = sections.push(level, " ".join(text.split()))
                blocks.append(Block(text, kind="heading", page=page, section=path_))
        elif _is_list_item(el, doc):
            if not listing:
                list_page = page
            listing.append(f"- {text}")
        else:
            flush_list()
            blocks.append(Block(text, page=page, section=sections.path))
    flush_list()
    blocks.extend(_headers_footers(doc))
    meta: dict[str, Any] = {"pages_estimated": True} if pages.enabled else {}
    blocks = pictures_.finish(blocks, meta)
    return LoadedDocument(
        blocks, title=title, pages=pages.current if pages.enabled else None, meta=meta
    )


_BLIP = "{http://schemas.openxmlformats.org/drawingml/2006/main}blip"
_R_EMBED = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}embed"


def _pictures(p: Any, doc: Any) -> list[tuple[str, bytes]]:
    """(name, bytes) of the pictures drawn in a paragraph."""
    out = []
    for blip in p.iter(_BLIP):
        rid = blip.get(_R_EMBED)
        part = doc.part.related_parts.get(rid) if rid else None
        blob = getattr(part, "blob", None)
        if blob:
            out.append((str(getattr(part, "partname", "")).rsplit("/", 1)[-1], blob))
    return out


def _headers_footers(doc: Any) -> list[Block]:
    """Header and footer text, once each, after the body (``meta["part"]``)."""
    seen: set[str] = set()
    out: list[Block] = []
    for section in doc.sections:
        for part, hf in (("header", section.header), ("footer", section.footer)):
            try:
                if hf.is_linked_to_previous:
                    continue
                texts = [paragraph_text(el) for el in _iter_body(hf._element) if el.tag == P]
            except Exception:  # noqa: BLE001 - a broken header must not lose the body
                continue
            text = "\n".join(t for t in texts if t)
            if text and text not in seen:
                seen.add(text)
                out.append(Block(text, meta={"part": part}))
    return out
