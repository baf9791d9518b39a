"""The pictures of a PDF's pages (pypdf's page images), placed after the text of their page.

Pages that were OCR'd as scans are left out: their picture is the page itself, already read
(and downloadable as the page). What is kept, skipped and OCR'd is decided by
``pictures.PictureCollector`` for the whole document (a logo on every page is skipped).
A picture pypdf cannot decode is counted as unreadable; no picture failing fails the file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from zhiku.ingest.loaders.base import LoadedDocument
from zhiku.ingest.loaders.limits import checkpoint
from zhiku.ingest.loaders.pictures import PictureCollector

log = logging.getLogger(__name__)

#: pictures looked at per file at most (a PDF of thousands of tiles is not a picture book)
MAX_SEEN = 1000


def with_pictures(path: Path, doc: LoadedDocument) -> LoadedDocument:
    """``doc`` with the pictures of its pages (``doc.meta["pictures"]``) and their text placed."""
    from pypdf import PdfReader

    skip = set(doc.meta.get("ocr_pages") or [])
    collector = PictureCollector()
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return doc
        pages = list(reader.pages)
    except Exception:  # noqa: BLE001 - the text was read; pictures are a bonus
        log.info("%s: pictures not read (pypdf cannot open it)", path.name, exc_info=True)
        return doc
    seen = 0
    for number, page in enumerate(pages, 1):
        checkpoint()
        if number in skip:
            continue
        try:
            images = page.images
            count = len(images)
        except Exception:  # noqa: BLE001
            log.debug("%s: page %d has unreadable resources", path.name, number, exc_info=True)
            continue
        for i in range(count):
            if seen >= MAX_SEEN:
                collector._skip("over_limit")
                continue
            seen += 1
            try:
                image = images[i]
                data = image.data
                name = str(image.name or "")
            except Exception:  # noqa: BLE001 - a filter pypdf cannot decode
                collector._skip("unreadable")
                continue
            collector.add(data, name.rsplit("/", 1)[-1], page=number, section=_section(doc, number))
    doc.blocks = collector.finish(doc.blocks, doc.meta)
    return doc


def _section(doc: LoadedDocument, page: int) -> tuple[str, ...]:
    """The section path of the last block of ``page`` (where its pictures go)."""
    section: tuple[str, ...] = ()
    for b in doc.blocks:
        if b.page is not None and b.page <= page:
            section = b.section
    return section
