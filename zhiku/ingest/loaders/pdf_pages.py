"""One page of a stored PDF as a PDF of its own: what a citation's "open page N" downloads.

``pdf_page`` copies page ``N`` (1-based) with pypdf's ``PdfWriter``; the copy keeps the
page's fonts and pictures, so it looks exactly like the original page. The file's name
for the download gets the page number (``report.pdf`` → ``report-p3.pdf``).
"""

from __future__ import annotations

import io
from pathlib import Path, PurePath

from zhiku.errors import InvalidInput, LoadError


def page_file_name(name: str, page: int) -> str:
    """``report.pdf``, 3 → ``report-p3.pdf``."""
    stem = PurePath(name).stem or "document"
    return f"{stem}-p{page}.pdf"


def pdf_page(path: Path, name: str, page: int) -> bytes:
    """The bytes of a one-page PDF holding page ``page`` of the PDF at ``path``.

    Raises ``InvalidInput`` when the file is not a PDF or the page is out of range, and
    ``LoadError`` when the stored PDF cannot be opened (damaged, password-protected)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError

    with open(path, "rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" not in head:
        raise InvalidInput(f"'{name}' is not a PDF: only PDF files can be downloaded one page at a time",
                           field="page")
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(f"'{name}' is password-protected; its pages cannot be copied",
                            reason="encrypted")
        n_pages = len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise LoadError(f"'{name}' cannot be opened as a PDF ({e})") from e
    if not 1 <= page <= n_pages:
        raise InvalidInput(f"page {page} is out of range: '{name}' has {n_pages} page(s)",
                           field="page", pages=n_pages)
    writer = PdfWriter()
    writer.add_page(reader.pages[page - 1])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
