"""What a file really is, from its first bytes (and, for zip and OLE files, their directory).

Only signatures are trusted here: a file that merely *contains* HTML or JSON is
still "text". The result names a format (``kind``) and says it in words (``label``)
for error messages.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from zhiku.ingest.loaders.encoding import looks_like_text

HEAD_SIZE = 8192
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_SCAN_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Sniffed:
    kind: str
    label: str


_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image", "a PNG image"),
    (b"\xff\xd8\xff", 0, "image", "a JPEG image"),
    (b"GIF87a", 0, "image", "a GIF image"),
    (b"GIF89a", 0, "image", "a GIF image"),
    (b"II*\x00", 0, "image", "a TIFF image"),
    (b"MM\x00*", 0, "image", "a TIFF image"),
    (b"WEBP", 8, "image", "a WebP image"),
    (b"BM", 0, "image?", "a BMP image"),
    (b"{\\rtf", 0, "rtf", "an RTF document"),
    (b"\x1f\x8b", 0, "archive", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "archive", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", 0, "archive", "a RAR archive"),
    (b"\xfd7zXZ\x00", 0, "archive", "an xz archive"),
    (b"BZh", 0, "archive?", "a bzip2 archive"),
    (b"\x7fELF", 0, "executable", "an executable program"),
    (b"MZ", 0, "executable?", "a Windows executable"),
    (b"SQLite format 3\x00", 0, "database", "an SQLite database"),
    (b"ftyp", 4, "media", "an audio or video file"),
    (b"ID3", 0, "media?", "an audio file"),
    (b"OggS", 0, "media", "an audio or video file"),
    (b"fLaC", 0, "media", "an audio file"),
)

_ZIP_MIMETYPES = {
    "application/epub+zip": ("epub", "an EPUB e-book"),
    "application/vnd.oasis.opendocument.text": ("odf", "an OpenDocument text (.odt)"),
    "application/vnd.oasis.opendocument.spreadsheet": ("odf", "an OpenDocument spreadsheet (.ods)"),
    "application/vnd.oasis.opendocument.presentation": (
        "odf",
        "an OpenDocument presentation (.odp)",
    ),
}
_OOXML_PARTS = (
    ("word/", "docx", "a Word document (.docx)"),
    ("xl/", "xlsx", "an Excel workbook (.xlsx)"),
    ("ppt/", "pptx", "a PowerPoint presentation (.pptx)"),
)
_OLE_STREAMS = (
    ("EncryptedPackage", "encrypted", "a password-protected (encrypted) Office document"),
    ("WordDocument", "doc", "a Word 97-2003 document (.doc)"),
    ("Workbook", "xls", "an Excel 97-2003 workbook (.xls)"),
    ("PowerPoint Document", "ppt", "a PowerPoint 97-2003 presentation (.ppt)"),
    ("__substg1.0_", "msg", "an Outlook message (.msg)"),
)


def _sniff_zip(path: Path) -> Sniffed:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if "mimetype" in names:
                mime = zf.read("mimetype")[:100].decode("ascii", "replace").strip()
                if mime in _ZIP_MIMETYPES:
                    return Sniffed(*_ZIP_MIMETYPES[mime])
            if "[Content_Types].xml" in names:
                for prefix, kind, label in _OOXML_PARTS:
                    if any(n.startswith(prefix) for n in names):
                        return Sniffed(kind, label)
                return Sniffed("ooxml", "an Office Open XML package of unknown kind")
            if "META-INF/container.xml" in names:
                return Sniffed("epub", "an EPUB e-book")
    except Exception:  # noqa: BLE001 - zipfile raises many types on damaged archives
        return Sniffed("zip-damaged", "a damaged zip archive")
    return Sniffed("zip", "a zip archive")


def _sniff_ole(path: Path) -> Sniffed:
    with path.open("rb") as fh:
        data = fh.read(_OLE_SCAN_LIMIT)
    for stream, kind, label in _OLE_STREAMS:
        if stream.encode("utf-16-le") in data:
            return Sniffed(kind, label)
    return Sniffed("ole", "a legacy Microsoft Office (OLE) file")


def _text_label(head: bytes) -> str:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:200].lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<html" in start:
        return "an HTML page"
    if start.startswith(b"<?xml"):
        return "an XML file"
    return "text"


def sniff_file(path: Path) -> Sniffed:
    """Identify a file by its content. Never raises on content; OSError if unreadable."""
    with path.open("rb") as fh:
        head = fh.read(HEAD_SIZE)
    if not head:
        return Sniffed("empty", "an empty file")
    if b"%PDF-" in head[:1024]:
        return Sniffed("pdf", "a PDF document")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _sniff_zip(path)
    if head.startswith(_OLE_MAGIC):
        return _sniff_ole(path)
    text = looks_like_text(head)
    for magic, offset, kind, label in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if kind.endswith("?"):  # weak magic: only believed for binary content
                if text:
                    continue
                kind = kind[:-1]
            return Sniffed(kind, label)
    if text:
        return Sniffed("text", _text_label(head))
    return Sniffed("binary", "binary data")
