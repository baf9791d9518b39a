"""PDF: text, layout, tables and OCR, page by page (``page`` 1-based).

Text and its positions come from PDFium (pypdfium2, which pdfplumber already
depends on; ~10x faster than pypdf here). Each page's runs of text go through
``pdf_layout``: two-column pages read column by column, lines joined into
paragraphs, headings (font size and weight, relative to the document's body size)
pushed on the section path. Around that:

* **Headers, footers, page numbers**: lines in the top or bottom margin that repeat
  (digits ignored) on several pages, and lone page numbers ("12", "- 12 -",
  "Page 3 of 9", "第 3 页"), are dropped. ``meta["removed_margin_lines"]`` counts them.
  Watermarks (large type repeated at one place on several pages) go too
  (``meta["removed_watermarks"]``), and so do heading-like lines (large or bold) at one
  place on 3+ pages anywhere on the page (``meta["removed_repeated_headings"]``).
* **Tables**: pages that draw lines or rectangles are handed to pdfplumber
  (``pdf_tables``); each ruled table becomes a markdown ``kind="table"`` block and its
  text is removed from the prose. Tables set without rules are found by the layout from
  the alignment of their cells (``aligned_tables``).
* **Scanned pages** (no text layer, a picture covering the page) and **garbled pages**
  (a text layer mostly of glyphs without a Unicode value, mojibake or symbol soup:
  ``pdf_text.garbage_text``) are rendered and OCR'd
  (``zhiku[ocr]``); their blocks carry ``meta["ocr"] = True``, ``doc.meta["ocr_pages"]``
  lists them and ``doc.meta["garbled_pages"]`` the garbled ones. Without the extra, a
  PDF of scans only raises ``MissingDependency``; a mixed one loads its text and lists
  the rest in ``meta["pages_need_ocr"]``.

Characters, their boxes and font sizes come from ``pdf_text`` (NFKC, sizes scaled by
the text matrix, figures fonts without a Unicode map decoded). ``meta["pages_without_text"]``
lists pages that yielded nothing.
"""

from __future__ import annotations

import ctypes
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zhiku.errors import LoadError, MissingDependency
from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.limits import checkpoint
from zhiku.ingest.loaders.pdf_headings import drop_repeated_headings
from zhiku.ingest.loaders.pdf_margins import _Page, drop_margins, drop_watermarks
from zhiku.ingest.loaders.pdf_layout import (
    HeadingLevels,
    Seg,
    body_size,
    layout_blocks,
)
from zhiku.ingest.loaders.pdf_tables import page_tables
from zhiku.ingest.loaders.ocr import mark_unreadable
from zhiku.ingest.loaders.pdf_text import garbage_text, normalize_pdf_text, page_runs
from zhiku.ingest.loaders.text import SectionStack

if TYPE_CHECKING:
    from pypdf import PdfReader

log = logging.getLogger(__name__)

_JUNK_TITLES = {"", "untitled", "title", "none", "null"}


def _title(reader: PdfReader) -> str | None:
    try:
        meta = reader.metadata
        title = (meta.title if meta else None) or ""
    except Exception:  # noqa: BLE001 - broken metadata must not stop the text
        return None
    title = normalize_pdf_text(str(title)).strip()
    title = re.sub(r"^Microsoft (Word|PowerPoint|Excel) - ", "", title)
    return None if title.lower() in _JUNK_TITLES else title


def _is_pdf(head: bytes) -> bool:
    return b"%PDF-" in head[:1024]



def _load_with_pypdf(path: Path) -> LoadedDocument:
    """The plain-text path (pypdf), used when PDFium cannot open the file."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PdfReadError

    try:
        reader = PdfReader(path, strict=False)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise LoadError(f"damaged PDF, cannot be opened ({e})") from e
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")
        except DependencyError as e:
            raise LoadError(f"encrypted PDF that needs an extra package to open ({e})") from e
        except Exception as e:
            raise LoadError(f"password-protected PDF ({e})", reason="encrypted") from e
        if not opened:
            raise LoadError(
                "password-protected PDF; remove the password and upload it again",
                reason="encrypted",
            )
    try:
        n_pages = len(reader.pages)
    except Exception as e:
        raise LoadError(f"damaged PDF, its page tree cannot be read ({e})") from e
    blocks: list[Block] = []
    empty: list[int] = []
    failed: list[int] = []
    for number in range(1, n_pages + 1):
        checkpoint()
        try:
            raw = reader.pages[number - 1].extract_text() or ""
        except Exception:  # noqa: BLE001 - one bad page should not lose the others
            log.warning("%s: text of page %d could not be extracted", path.name, number)
            failed.append(number)
            raw = ""
        text = normalize_pdf_text(raw).strip()
        if text:
            blocks.append(Block(text, page=number))
        else:
            empty.append(number)
    if not blocks:
        why = "scanned pages (images only)?"
        if failed and len(failed) == n_pages:
            why = "the text of every page failed to extract; the file may be damaged"
        raise LoadError(f"no text found in {n_pages} page(s): {why}", reason="no_text")
    meta: dict[str, object] = {"pages_without_text": empty}
    if failed:
        meta["pages_failed"] = failed
    return LoadedDocument(blocks, title=_title(reader), pages=n_pages, meta=meta)


# ---- the PDFium path -------------------------------------------------------------------------
#: a page is taken for a scan when it has fewer text characters than this and a picture
#: covering at least half of it
SCAN_MAX_CHARS = 30
OCR_DPI = 200
#: pages drawing more paths than this are pictures (maps, charts), not ruled tables
MAX_TABLE_PATHS = 3000


def _objects(page: Any, info: _Page, box: tuple[float, float, float, float]) -> None:
    from pypdfium2 import raw

    l, b, r, t = box
    area = max((r - l) * (t - b), 1.0)
    cover = 0.0
    n = raw.FPDFPage_CountObjects(page)
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    for i in range(n):
        obj = raw.FPDFPage_GetObject(page, i)
        kind = raw.FPDFPageObj_GetType(obj)
        if kind == raw.FPDF_PAGEOBJ_PATH:
            info.paths += 1
        elif kind == raw.FPDF_PAGEOBJ_IMAGE:
            if raw.FPDFPageObj_GetBounds(obj, *(ctypes.byref(v) for v in (left, bottom, right, top))):
                w = min(right.value, r) - max(left.value, l)
                h = min(top.value, t) - max(bottom.value, b)
                if w > 0 and h > 0:
                    cover = max(cover, w * h / area)
        elif kind == raw.FPDF_PAGEOBJ_FORM:
            info.paths += 1  # forms may hold the table's rules; let pdfplumber look
    info.image_cover = cover


def _ocr_page(pdfpage: Any, page: _Page) -> list[Seg]:
    from zhiku.ingest.loaders.ocr import is_blank, ocr_image

    scale = OCR_DPI / 72
    image = pdfpage.render(scale=scale).to_pil()
    if is_blank(image):
        return []
    segs = ocr_image(image)
    factor = image.width / page.width if page.width else 1 / scale
    for s in segs:  # pixels -> points, so the layout sees the page's own geometry
        s.x0, s.x1, s.top, s.bottom, s.size = (
            s.x0 / factor, s.x1 / factor, s.top / factor, s.bottom / factor, s.size / factor
        )
    return segs


def _clean_title(title: str) -> str | None:
    title = normalize_pdf_text(str(title or "")).strip()
    title = re.sub(r"^Microsoft (Word|PowerPoint|Excel) - ", "", title)
    return None if title.lower() in _JUNK_TITLES else title


@register("pdf", (".pdf",), sniff=_is_pdf)
def load_pdf(path: Path) -> LoadedDocument:
    import pypdfium2 as pdfium

    from zhiku.ingest.loaders.ocr import ocr_available

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as e:
        if "password" in str(e).lower():
            raise LoadError(
                "password-protected PDF; remove the password and upload it again",
                reason="encrypted",
            ) from e
        log.info("%s: PDFium cannot open it (%s); trying pypdf", path.name, e)
        return _load_with_pypdf(path)
    try:
        doc = _load_pdfium(path, pdf, ocr_available())
    finally:
        pdf.close()
    from zhiku.ingest.loaders.pdf_pictures import with_pictures

    return with_pictures(path, doc)  # the pages' pictures (pdf_pictures.py)


def _load_pdfium(path: Path, pdf: Any, can_ocr: bool) -> LoadedDocument:
    n_pages = len(pdf)
    pages: list[_Page] = []
    failed: list[int] = []
    for number in range(1, n_pages + 1):
        checkpoint()
        try:
            pdfpage = pdf[number - 1]
            box = pdfpage.get_mediabox()
            info = _Page(number, box[2] - box[0], box[3] - box[1])
            textpage = pdfpage.get_textpage()
            read = page_runs(textpage, box)
            info.runs, info.chars, info.garbled = read.runs, read.chars, read.garbled
            textpage.close()
            _objects(pdfpage, info, box)
            pdfpage.close()
        except Exception:
            log.warning("%s: page %d could not be read", path.name, number, exc_info=True)
            failed.append(number)
            info = _Page(number, 0, 0)
        pages.append(info)

    scanned = [p for p in pages if (p.chars < SCAN_MAX_CHARS and p.image_cover >= 0.5)
               or (p.chars == 0 and p.image_cover >= 0.05) or p.garbled]
    garbled = [p.number for p in pages if p.garbled]
    ocr_pages: list[int] = []
    need_ocr: list[int] = []
    if scanned and not can_ocr:
        need_ocr = [p.number for p in scanned]
        for p in scanned:  # mojibake or symbol soup: nothing to index until it is OCR'd
            if p.garbled and garbage_text(" ".join(s.text for s in p.runs)):
                p.runs = []
        if all(not p.runs for p in pages):
            raise MissingDependency(
                "rapidocr-onnxruntime", extra="ocr",
                purpose=f"reading its {len(scanned)} scanned page(s), which have no readable text layer",
            )
        log.warning("%s: %d scanned page(s) skipped: OCR is not installed (pip install "
                    "'zhiku[ocr]')", path.name, len(scanned))
    removed = drop_margins(pages)
    watermarks = drop_watermarks(pages)
    ocr_read: dict[str, Any] = {}  # lines OCR could not read, per page (ocr.mark_unreadable)
    if scanned and can_ocr:
        for p in scanned:
            checkpoint()
            try:
                pdfpage = pdf[p.number - 1]
                segs = _ocr_page(pdfpage, p)
                pdfpage.close()
                mark_unreadable(ocr_read, segs, p.number)
            except MissingDependency:
                raise
            except Exception:
                log.warning("%s: OCR failed on page %d", path.name, p.number, exc_info=True)
                continue
            if segs:
                ocr_text = "".join("".join(s.text.split()) for s in segs).lower()
                p.runs = [] if p.garbled else [
                    s for s in p.runs if "".join(s.text.split()).lower() not in ocr_text]
                for s in segs:
                    s.bold = False
                p.runs.extend(segs)
                ocr_pages.append(p.number)

    table_pages = [p for p in pages if 2 <= p.paths <= MAX_TABLE_PATHS and p.runs
                   and p.number not in ocr_pages]
    tables: dict[int, list[Seg]] = {}
    if table_pages:
        try:
            import pdfplumber

            with pdfplumber.open(str(path)) as plumber:
                for p in table_pages:
                    found, p.runs = page_tables(plumber, p.number, p.runs)
                    if found:
                        tables[p.number] = found
        except Exception:
            log.warning("%s: table extraction failed", path.name, exc_info=True)

    body = body_size([s for p in pages if p.number not in ocr_pages for s in p.runs])
    kept, repeated = drop_repeated_headings(  # pdf_headings.py; OCR'd sizes are too rough
        [[] if p.number in ocr_pages else p.runs for p in pages], body)
    for p, runs in zip(pages, kept, strict=True):
        p.runs = p.runs if p.number in ocr_pages else runs
    all_runs = [s for p in pages if p.number not in ocr_pages for s in p.runs]
    body = body_size(all_runs)
    levels = HeadingLevels(body, [s.size for s in all_runs]) if body else None
    sections = SectionStack()
    blocks: list[Block] = []
    empty: list[int] = []
    n_tables = 0
    for p in pages:
        segs = p.runs + tables.get(p.number, [])
        if not segs:
            empty.append(p.number)
            continue
        is_ocr = p.number in ocr_pages
        page_blocks = layout_blocks(
            segs, width=p.width, page=p.number, sections=sections,
            levels=None if is_ocr else levels, size_tolerance=0.35 if is_ocr else 0.15,
        )
        for b in page_blocks:
            scores = b.meta.pop("_scores", None)
            if is_ocr:
                b.meta["ocr"] = True
                if scores:
                    b.meta["ocr_confidence"] = round(sum(scores) / len(scores), 3)
            if b.kind == "table":
                n_tables += 1
                b.meta["table"] = n_tables
        if not page_blocks:
            empty.append(p.number)
        blocks.extend(page_blocks)
    if not blocks:
        why = "scanned pages (images only)?"
        if scanned and can_ocr:
            why = "its scanned pages were OCR'd but no text was recognised"
            if ocr_read.get("pages_unreadable"):
                why = ("OCR found lines in a script its Chinese/English models do not know (such "
                       "as Korean) or too faint to read")
        if failed and len(failed) == n_pages:
            why = "every page failed to read; the file may be damaged"
        raise LoadError(f"no text found in {n_pages} page(s): {why}", reason="no_text")
    meta: dict[str, Any] = {"pages_without_text": empty, **ocr_read}
    if ocr_pages:
        meta["ocr_pages"] = ocr_pages
    if need_ocr:
        meta["pages_need_ocr"] = need_ocr
    if failed:
        meta["pages_failed"] = failed
    if garbled:
        meta["garbled_pages"] = garbled
    if n_tables:
        meta["tables"] = n_tables
    if removed:
        meta["removed_margin_lines"] = removed
    if watermarks:
        meta["removed_watermarks"] = watermarks
    if repeated:
        meta["removed_repeated_headings"] = repeated
    try:
        title = _clean_title(pdf.get_metadata_dict().get("Title", ""))
    except Exception:  # noqa: BLE001
        title = None
    return LoadedDocument(blocks, title=title, pages=n_pages, meta=meta)
