"""Hostile and broken files (issue 20, the permanent suite's "hostile files"): each is a clear error
for that file (a ``LoadError`` or ``UnsupportedFormat`` naming it, never a library's exception) or
loads what it honestly holds. Decompression bombs: test_decompression_bombs.py; memory of large
text: test_large_text_memory.py."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.ingest import fixtures_docs
from zhiku.errors import LoadError, UnsupportedFormat, ZhikuError
from zhiku.ingest.loaders import load_file

BUILDERS = {
    "docx": fixtures_docs.make_docx, "pptx": fixtures_docs.make_pptx, "xlsx": fixtures_docs.make_xlsx,
    "pdf": fixtures_docs.make_pdf, "html": fixtures_docs.make_html, "eml": fixtures_docs.make_eml,
    "epub": fixtures_docs.make_epub, "ipynb": fixtures_docs.make_ipynb,
}


def _cuts(size: int) -> list[int]:
    return sorted({1, 16, size // 10, size // 2, size - 100, size - 1} - {0})


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_truncated_files_are_a_clear_error_or_their_readable_part(kind: str, tmp_path: Path) -> None:
    whole = BUILDERS[kind](tmp_path / f"whole.{kind}").read_bytes()
    for cut in _cuts(len(whole)):
        path = tmp_path / f"cut{cut}.{kind}"
        path.write_bytes(whole[:cut])
        try:
            doc = load_file(path)
        except ZhikuError as e:
            assert isinstance(e, (LoadError, UnsupportedFormat)), (cut, e)
            assert e.message.startswith(f"cut{cut}.{kind}: ") and len(e.message) > len(path.name) + 10, e.message
            continue
        assert doc.blocks and all(b.text.strip() for b in doc.blocks), cut  # what was left, honestly read


def _docx_with(document_xml: bytes, dest: Path) -> Path:
    src = fixtures_docs.make_docx(dest.with_name("base.docx")).read_bytes()
    with zipfile.ZipFile(io.BytesIO(src)) as z, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            out.writestr(info.filename, document_xml if info.filename == "word/document.xml" else z.read(info))
    return dest


def test_xml_entity_expansion_is_not_expanded(tmp_path: Path) -> None:
    """Billion laughs in a docx's body: refused or read without expanding the entities."""
    lol = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    for i in range(1, 10):
        prev = b"&lol;" if i == 1 else b"&lol%d;" % (i - 1)
        lol += b'<!ENTITY lol%d "%s">' % (i, prev * 10)
    lol += (b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            b"<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
    path = _docx_with(lol, tmp_path / "laughs.docx")
    try:
        doc = load_file(path)
    except ZhikuError as e:
        assert e.message.startswith("laughs.docx: ")
        return
    assert len(doc.text) < 10_000  # 10^9 "lol"s were never made


def test_external_entities_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    xxe = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://' + str(secret).encode() + b'">]>'
           b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
           b"<w:p><w:r><w:t>before &x; after</w:t></w:r></w:p></w:body></w:document>")
    path = _docx_with(xxe, tmp_path / "xxe.docx")
    try:
        doc = load_file(path)
    except ZhikuError as e:
        assert e.message.startswith("xxe.docx: ")
        return
    assert "TOP-SECRET-CONTENT" not in doc.text


def test_deeply_nested_html_is_read_or_refused_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "nested.html"
    depth = 100_000
    path.write_text("<html><body>" + "<div>" * depth + "deep text" + "</div>" * depth + "</body></html>",
                    encoding="utf-8")
    try:
        doc = load_file(path)
    except ZhikuError as e:
        assert e.message.startswith("nested.html: ")
        return
    assert "deep text" in doc.text


def test_a_long_single_line_text_is_chunked(tmp_path: Path) -> None:
    path = tmp_path / "one-line.txt"
    path.write_text("word " * 400_000, encoding="utf-8")  # 2 MB, no line end
    doc = load_file(path)
    assert len(doc.blocks) > 100 and max(len(b.text) for b in doc.blocks) <= 4000
