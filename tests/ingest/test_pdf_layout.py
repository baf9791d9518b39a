"""PDF layout: columns, headings, running headers/footers, ruled tables, page numbers.

Every fixture is drawn here with reportlab, so the tests say what a person reads on the page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku.errors import MissingDependency
from zhiku.ingest.loaders import load_file
from zhiku.ingest.split import document_text, split_blocks

pytest.importorskip("reportlab")

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

W, H = A4
LEFT = [f"Left column sentence number {i} talks about apples and pears." for i in range(1, 13)]
RIGHT = [f"Right column sentence number {i} talks about boats and ships." for i in range(1, 13)]


def _wrap(c, text, x, y, width, font="Helvetica", size=10, leading=13):
    """Draw ``text`` wrapped to ``width``; returns the y below it."""
    words, line = text.split(), ""
    for w in words:
        trial = f"{line} {w}".strip()
        if c.stringWidth(trial, font, size) > width and line:
            c.setFont(font, size)
            c.drawString(x, y, line)
            y -= leading
            line = w
        else:
            line = trial
    if line:
        c.setFont(font, size)
        c.drawString(x, y, line)
        y -= leading
    return y


def two_column_pdf(path: Path) -> Path:
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica-Bold", 20)
    c.drawString(72, H - 90, "A Study of Two Columns")
    col_w = (W - 144 - 24) / 2
    y = H - 130
    for s in LEFT:
        y = _wrap(c, s, 72, y, col_w)
    y = H - 130
    for s in RIGHT:
        y = _wrap(c, s, 72 + col_w + 24, y, col_w)
    c.showPage()
    c.save()
    return path


def test_two_column_page_reads_column_by_column(tmp_path):
    doc = load_file(two_column_pdf(tmp_path / "cols.pdf"))
    text = doc.text
    assert doc.blocks[0].kind == "heading" and doc.blocks[0].text == "A Study of Two Columns"
    last_left = text.index("number 12 talks about apples")
    first_right = text.index("Right column sentence number 1 ")
    assert last_left < first_right
    positions = [text.index(s) for s in LEFT + RIGHT]
    assert positions == sorted(positions)  # every sentence whole, in reading order


def headings_pdf(path: Path) -> Path:
    c = canvas.Canvas(str(path), pagesize=A4)
    y = H - 80
    c.setFont("Helvetica-Bold", 22)
    c.drawString(72, y, "Chapter One Rivers")
    y -= 40
    c.setFont("Helvetica-Bold", 15)
    c.drawString(72, y, "1.1 The Yangtze")
    y -= 26
    y = _wrap(c, "The Yangtze is the longest river in Asia and flows for 6300 kilometres "
                 "from the Tibetan Plateau to the East China Sea.", 72, y, W - 144, size=11)
    y -= 14
    c.setFont("Helvetica-Bold", 15)
    c.drawString(72, y, "1.2 The Yellow River")
    y -= 26
    y = _wrap(c, "The Yellow River is the second longest river in China.", 72, y, W - 144, size=11)
    c.showPage()
    c.setFont("Helvetica-Bold", 22)
    c.drawString(72, H - 80, "Chapter Two Mountains")
    _wrap(c, "Mount Everest is the highest mountain above sea level.", 72, H - 120, W - 144, size=11)
    c.showPage()
    c.save()
    return path


def test_headings_from_font_size_become_section_paths(tmp_path):
    doc = load_file(headings_pdf(tmp_path / "rivers.pdf"))
    heads = [(b.text, b.section) for b in doc.blocks if b.kind == "heading"]
    assert heads == [
        ("Chapter One Rivers", ("Chapter One Rivers",)),
        ("1.1 The Yangtze", ("Chapter One Rivers", "1.1 The Yangtze")),
        ("1.2 The Yellow River", ("Chapter One Rivers", "1.2 The Yellow River")),
        ("Chapter Two Mountains", ("Chapter Two Mountains",)),
    ]
    body = next(b for b in doc.blocks if "longest river in Asia" in b.text)
    assert body.section == ("Chapter One Rivers", "1.1 The Yangtze") and body.page == 1
    # the wrapped lines are one paragraph, joined with spaces
    assert "flows for 6300 kilometres from the Tibetan Plateau" in body.text
    everest = next(b for b in doc.blocks if "Everest" in b.text)
    assert everest.section == ("Chapter Two Mountains",) and everest.page == 2


def headers_pdf(path: Path, pages: int = 4) -> Path:
    c = canvas.Canvas(str(path), pagesize=A4)
    for n in range(1, pages + 1):
        c.setFont("Helvetica", 9)
        c.drawString(72, H - 40, "ACME Corporation Annual Report 2024")
        c.drawCentredString(W / 2, 30, f"Page {n} of {pages}")
        _wrap(c, f"Body text of page {n}: revenue grew in region {n} thanks to new customers.",
              72, H - 120, W - 144, size=11)
        c.showPage()
    c.save()
    return path


def test_running_headers_footers_and_page_numbers_are_removed(tmp_path):
    doc = load_file(headers_pdf(tmp_path / "report.pdf"))
    assert "ACME Corporation" not in doc.text
    assert "Page 1 of 4" not in doc.text and "of 4" not in doc.text
    assert [b.page for b in doc.blocks] == [1, 2, 3, 4]
    assert "revenue grew in region 3" in doc.blocks[2].text
    assert doc.meta["removed_margin_lines"] == 8


def test_a_single_page_keeps_its_top_line_but_drops_a_lone_page_number(tmp_path):
    c = canvas.Canvas(str(tmp_path / "one.pdf"), pagesize=A4)
    c.setFont("Helvetica", 9)
    c.drawString(72, H - 40, "Memo to all staff")
    c.drawCentredString(W / 2, 30, "- 7 -")
    _wrap(c, "The office is closed on Monday.", 72, H - 120, W - 144, size=11)
    c.showPage()
    c.save()
    doc = load_file(tmp_path / "one.pdf")
    assert "Memo to all staff" in doc.text and "- 7 -" not in doc.text


def table_pdf(path: Path) -> Path:
    from reportlab.lib import colors
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import (
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    data = [["Product", "Quantity", "Unit price"],
            ["Green tea", "120", "3.50"],
            ["Oolong tea", "80", "5.20"],
            ["Pu-erh tea", "45", "9.90"]]
    table = Table(data)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    story = [Paragraph("Sales of the first quarter are listed below.", styles["Normal"]),
             Spacer(1, 12), table, Spacer(1, 12),
             Paragraph("Green tea sold best this quarter.", styles["Normal"])]
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return path


def test_ruled_table_becomes_markdown_and_leaves_the_prose(tmp_path):
    doc = load_file(table_pdf(tmp_path / "sales.pdf"))
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1 and doc.meta["tables"] == 1
    lines = tables[0].text.splitlines()
    assert lines[0] == "| Product | Quantity | Unit price |"
    assert "| Oolong tea | 80 | 5.20 |" in lines
    assert tables[0].page == 1 and tables[0].meta["rows"] == "2-4"
    prose = " ".join(b.text for b in doc.blocks if b.kind != "table")
    assert "Oolong" not in prose  # not duplicated in the page's text
    order = [b.text for b in doc.blocks]
    assert order[0].startswith("Sales") and order[-1].startswith("Green tea sold")


def test_chunks_carry_pdf_pages_and_offsets(tmp_path):
    doc = load_file(headers_pdf(tmp_path / "report.pdf", pages=3))
    chunks = split_blocks(doc.blocks, chunk_size=60, chunk_overlap=0)
    text = document_text(doc.blocks)
    assert {c.page for c in chunks} == {1, 2, 3}
    for c in chunks:
        assert c.text == text[c.start:c.end]
        assert f"region {c.page}" in text[c.start:c.end] or "region" not in c.text


@pytest.fixture
def cjk_font():
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def test_chinese_headings_and_lines_join_without_spaces(tmp_path, cjk_font):
    c = canvas.Canvas(str(tmp_path / "zh.pdf"), pagesize=A4)
    c.setFont(cjk_font, 20)
    c.drawString(72, H - 80, "第一章 总则")
    c.setFont(cjk_font, 11)
    c.drawString(72, H - 120, "为了规范知识库的管理，提高问答系统的")
    c.drawString(72, H - 135, "准确性，特制定本办法。")
    c.showPage()
    c.save()
    doc = load_file(tmp_path / "zh.pdf")
    assert doc.blocks[0].kind == "heading" and doc.blocks[0].text == "第一章 总则"
    assert doc.blocks[1].text == "为了规范知识库的管理，提高问答系统的准确性，特制定本办法。"
    assert doc.blocks[1].section == ("第一章 总则",)


def test_scanned_pdf_without_ocr_names_the_extra(tmp_path, monkeypatch):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (600, 200), "white")
    ImageDraw.Draw(img).text((20, 80), "Scanned words", fill="black")
    img.save(tmp_path / "p.png")
    c = canvas.Canvas(str(tmp_path / "scan.pdf"), pagesize=A4)
    c.drawImage(str(tmp_path / "p.png"), 0, 0, W, H)
    c.showPage()
    c.save()
    monkeypatch.setenv("ZHIKU_DISABLE_OCR", "1")
    with pytest.raises(MissingDependency, match=r"zhiku\[ocr\]"):
        load_file(tmp_path / "scan.pdf")
    with pytest.raises(MissingDependency, match=r"zhiku\[ocr\]"):
        load_file(tmp_path / "p.png")


def test_mixed_pdf_without_ocr_loads_its_text_and_lists_scanned_pages(tmp_path, monkeypatch):
    from PIL import Image

    Image.new("RGB", (600, 800), (200, 200, 200)).save(tmp_path / "p.png")
    c = canvas.Canvas(str(tmp_path / "mixed.pdf"), pagesize=A4)
    _wrap(c, "A page with a text layer.", 72, H - 100, W - 144)
    c.showPage()
    c.drawImage(str(tmp_path / "p.png"), 0, 0, W, H)
    c.showPage()
    c.save()
    monkeypatch.setenv("ZHIKU_DISABLE_OCR", "1")
    doc = load_file(tmp_path / "mixed.pdf")
    assert doc.text == "A page with a text layer." and doc.meta["pages_need_ocr"] == [2]
