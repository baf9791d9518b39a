"""Hostile files, generated: decompression bombs of every format that inflates, and large text.

Each bomb is small on disk and unpacks to about ``inflated`` bytes of *valid* content (whitespace
inside the XML or the page's content stream), so a reader that trusts it really allocates it.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

MB = 1 << 20


def _pad_stream(writer: zipfile.ZipFile, name: str, prefix: bytes, pad: int, suffix: bytes) -> None:
    """Write a part of ``prefix + pad spaces + suffix`` without holding it in memory."""
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with writer.open(info, "w", force_zip64=True) as out:
        out.write(prefix)
        block = b" " * MB
        for _ in range(pad // MB):
            out.write(block)
        out.write(suffix)


def _rewrite(source: bytes, bomb_part: str, prefix: bytes, pad: int, suffix: bytes, dest: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(source)) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED,
                                                                      compresslevel=9) as out:
        for info in src.infolist():
            if info.filename == bomb_part:
                _pad_stream(out, bomb_part, prefix, pad, suffix)
            else:
                out.writestr(info, src.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
    return dest


def _ooxml_part(source: bytes, part: str, anchor: bytes) -> tuple[bytes, bytes]:
    with zipfile.ZipFile(io.BytesIO(source)) as z:
        xml = z.read(part)
    at = xml.index(anchor)
    return xml[:at], xml[at:]


def docx_bomb(dest: Path, inflated: int = 1024 * MB) -> Path:
    import docx

    buf = io.BytesIO()
    d = docx.Document()
    d.add_paragraph("A bomb: its body is mostly whitespace.")
    d.save(buf)
    prefix, suffix = _ooxml_part(buf.getvalue(), "word/document.xml", b"<w:p>")
    return _rewrite(buf.getvalue(), "word/document.xml", prefix, inflated, suffix, dest)


def xlsx_bomb(dest: Path, inflated: int = 1024 * MB) -> Path:
    from openpyxl import Workbook

    buf = io.BytesIO()
    wb = Workbook()
    wb.active["A1"] = "bomb"
    wb.save(buf)
    prefix, suffix = _ooxml_part(buf.getvalue(), "xl/worksheets/sheet1.xml", b"<sheetData>")
    return _rewrite(buf.getvalue(), "xl/worksheets/sheet1.xml", prefix, inflated, suffix, dest)


def pptx_bomb(dest: Path, inflated: int = 1024 * MB) -> Path:
    from pptx import Presentation

    buf = io.BytesIO()
    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = "bomb"
    prs.save(buf)
    prefix, suffix = _ooxml_part(buf.getvalue(), "ppt/slides/slide1.xml", b"<p:cSld")
    return _rewrite(buf.getvalue(), "ppt/slides/slide1.xml", prefix, inflated, suffix, dest)


def epub_bomb(dest: Path, inflated: int = 1024 * MB) -> Path:
    container = (b'<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:'
                 b'container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/'
                 b'oebps-package+xml"/></rootfiles></container>')
    opf = (b'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata xmlns:'
           b'dc="http://purl.org/dc/elements/1.1/"><dc:title>Bomb</dc:title></metadata><manifest><item id="c1" '
           b'href="c1.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c1"/>'
           b'</spine></package>')
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), b"application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", container)
        z.writestr("OEBPS/content.opf", opf)
        _pad_stream(z, "OEBPS/c1.xhtml", b'<html xmlns="http://www.w3.org/1999/xhtml"><body><p>bomb</p>',
                    inflated, b"</body></html>")
    return dest


def pdf_bomb(dest: Path, inflated: int = 1024 * MB) -> Path:
    """One page whose content stream is ``inflated`` bytes of whitespace around one line of text."""
    comp = zlib.compressobj(9)
    parts = [comp.compress(b"BT /F1 12 Tf 72 720 Td (A bomb) Tj ET\n")]
    block = b" " * MB
    for _ in range(inflated // MB):
        parts.append(comp.compress(block))
    parts.append(comp.flush())
    content = b"".join(parts)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    dest.write_bytes(out.getvalue())
    return dest


BOMBS = {"docx": docx_bomb, "xlsx": xlsx_bomb, "pptx": pptx_bomb, "epub": epub_bomb, "pdf": pdf_bomb}
