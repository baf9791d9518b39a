"""PDF text with pypdf: one block per page that has text, ``page`` 1-based.

Text is NFKC-normalised (Chrome-printed PDFs emit Kangxi radicals such as "⾦" for
"金", and ligatures such as "ﬁ"), except full-width CJK punctuation, which NFKC
would turn into ASCII ("，" → ","), changing how Chinese text reads.

OCR seam: pages without a text layer are listed in ``meta["pages_without_text"]``.
The OCR loader (a later issue) fills exactly those pages, with ``Block.meta["ocr"]``.
Table extraction (pdfplumber) will plug in per page the same way.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path

from zhiku.errors import LoadError
from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.encoding import clean_text

log = logging.getLogger(__name__)

_KEEP = re.compile("([\u3000\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+)")
_JUNK_TITLES = {"", "untitled", "title", "none", "null"}


def normalize_pdf_text(text: str) -> str:
    """NFKC, keeping full-width CJK punctuation; control characters dropped."""
    parts = _KEEP.split(text)
    text = "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))
    return clean_text(text)


def _title(reader: object) -> str | None:
    try:
        meta = reader.metadata  # type: ignore[attr-defined]
        title = (meta.title if meta else None) or ""
    except Exception:  # noqa: BLE001 - broken metadata must not stop the text
        return None
    title = normalize_pdf_text(str(title)).strip()
    title = re.sub(r"^Microsoft (Word|PowerPoint|Excel) - ", "", title)
    return None if title.lower() in _JUNK_TITLES else title


def _is_pdf(head: bytes) -> bool:
    return b"%PDF-" in head[:1024]


@register("pdf", (".pdf",), sniff=_is_pdf)
def load_pdf(path: Path) -> LoadedDocument:
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
        except Exception as e:  # noqa: BLE001
            raise LoadError(f"password-protected PDF ({e})", reason="encrypted") from e
        if not opened:
            raise LoadError(
                "password-protected PDF; remove the password and upload it again",
                reason="encrypted",
            )
    try:
        n_pages = len(reader.pages)
    except Exception as e:  # noqa: BLE001
        raise LoadError(f"damaged PDF, its page tree cannot be read ({e})") from e
    blocks: list[Block] = []
    empty: list[int] = []
    failed: list[int] = []
    for number in range(1, n_pages + 1):
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
        why = "scanned pages (images only)? OCR is not available yet"
        if failed and len(failed) == n_pages:
            why = "the text of every page failed to extract; the file may be damaged"
        raise LoadError(f"no text found in {n_pages} page(s): {why}", reason="no_text")
    meta: dict[str, object] = {"pages_without_text": empty}
    if failed:
        meta["pages_failed"] = failed
    return LoadedDocument(blocks, title=_title(reader), pages=n_pages, meta=meta)
