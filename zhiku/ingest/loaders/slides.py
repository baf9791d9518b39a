"""PowerPoint .pptx: blocks per slide (``page`` = slide number), the slide title as section.

Text frames, tables (as markdown), charts (their data as a table) and grouped shapes
(recursively) are read in the slide's shape order; speaker notes come last with
``meta["notes"] = True``. Slide-number, date and footer placeholders are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.limits import checkpoint
from zhiku.ingest.loaders.pictures import PictureCollector
from zhiku.ingest.loaders.encoding import clean_text
from zhiku.ingest.loaders.tables import cell_text, markdown_table, table_blocks

log = logging.getLogger(__name__)


def _frame_text(frame: Any) -> str:
    lines = []
    for para in frame.paragraphs:
        text = clean_text("".join(r.text for r in para.runs) if para.runs else para.text)
        if text.strip():
            lines.append("  " * (para.level or 0) + text.strip())
    return "\n".join(lines)


def _chart_table(chart: Any) -> str:
    rows: list[list[str]] = []
    categories: list[str] = []
    for plot in chart.plots:
        categories = categories or [cell_text(c) for c in plot.categories]
        for series in plot.series:
            rows.append([series.name or "", *(cell_text(v) for v in series.values)])
    if not rows:
        return ""
    return markdown_table(["", *categories], rows)


def _shape_blocks(shape: Any, slide_no: int, section: tuple[str, ...],
                  pictures: PictureCollector | None = None, at: int = 0) -> Iterator[Block]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER

    if shape.is_placeholder:
        try:
            kind = shape.placeholder_format.type
        except (AttributeError, ValueError):
            kind = None
        if kind in (PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER):
            return
    if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
        for child in shape.shapes:
            yield from _shape_blocks(child, slide_no, section, pictures, at)
        return
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [
            (i, [clean_text(c.text) for c in row.cells])
            for i, row in enumerate(shape.table.rows, 1)
        ]
        yield from table_blocks(rows, section=section, page=slide_no, captions=False)
        return
    if getattr(shape, "has_chart", False) and shape.has_chart:
        chart = shape.chart
        try:
            title = chart.chart_title.text_frame.text if chart.has_title else ""
            table = _chart_table(chart)
        except Exception:  # noqa: BLE001 - unusual charts: keep the rest of the slide
            log.debug("chart data not readable", exc_info=True)
            title, table = "", ""
        text = "\n\n".join(t for t in (clean_text(title).strip(), table) if t)
        if text:
            yield Block(text, kind="table" if table else "text", page=slide_no,
                        section=section, meta={"chart": True})
        return
    if shape.shape_type == MSO_SHAPE_TYPE.PICTURE:
        try:
            blob, name = shape.image.blob, shape.image.filename or ""
        except Exception:  # noqa: BLE001 - a linked or broken picture
            return
        if pictures is not None:  # kept, OCR'd and placed by pictures.py
            pictures.add(blob, name, page=slide_no, section=section, anchor=at)
        return
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        text = _frame_text(shape.text_frame)
        if text:
            yield Block(text, page=slide_no, section=section)


@register("pptx", (".pptx",))
def load_pptx(path: Path) -> LoadedDocument:
    from pptx import Presentation

    prs = Presentation(str(path))
    blocks: list[Block] = []
    pictures = PictureCollector()
    n = 0
    for n, slide in enumerate(prs.slides, 1):
        checkpoint()
        title_shape = slide.shapes.title
        title = ""
        if title_shape is not None and title_shape.has_text_frame:
            title = " ".join(clean_text(title_shape.text_frame.text).split())
        section = (title,) if title else ()
        if title:
            blocks.append(Block(title, kind="heading", page=n, section=section))
        for shape in slide.shapes:
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            blocks.extend(_shape_blocks(shape, n, section, pictures, len(blocks)))
        if slide.has_notes_slide:
            frame = slide.notes_slide.notes_text_frame
            notes = _frame_text(frame) if frame is not None else ""
            if notes:
                blocks.append(Block(notes, page=n, section=section, meta={"notes": True}))
    doc_title = (prs.core_properties.title or "").strip() or None
    if doc_title is None:
        doc_title = next((b.text for b in blocks if b.kind == "heading" and b.page == 1), None)
    meta: dict[str, Any] = {}
    blocks = pictures.finish(blocks, meta)
    return LoadedDocument(blocks, title=doc_title, pages=n, meta=meta)
