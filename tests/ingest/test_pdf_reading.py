"""PDF pages read as a person reads them: bylines, letter-spaced titles, unmapped fonts,
tables drawn without rules. Every fixture is drawn here with reportlab."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku.ingest.loaders import load_file

pytest.importorskip("reportlab")

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from tests.ingest.test_pdf_layout import LEFT, RIGHT, _wrap

W, H = A4


def _centred_pieces(c, pieces, y):
    """Draw (text, font, size, rise) pieces side by side, centred on the page."""
    width = sum(c.stringWidth(t, f, s) for t, f, s, _ in pieces)
    x = (W - width) / 2
    for text, font, size, rise in pieces:
        c.setFont(font, size)
        c.drawString(x, y + rise, text)
        x += c.stringWidth(text, font, size)


def paper_pdf(path: Path) -> Path:
    """A paper's first page: title, a bold byline with footnote marks, affiliations, two columns."""
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica-Bold", 16)
    c.drawCentredString(W / 2, H - 80, "A Study of Engines")
    b, m = "Helvetica-Bold", "Helvetica"
    _centred_pieces(c, [("Ada Lovelace", b, 10.5, 0), ("*", m, 7, 4), (", Charles Babbage", b, 10.5, 0),
                        ("\u2020", m, 7, 4), (", Mary Somerville", b, 10.5, 0)], H - 110)
    c.setFont(m, 10)
    c.drawCentredString(W / 2, H - 126, "Analytical Engine Society   {ada, charles}@engine.org")
    col_w = (W - 144 - 24) / 2
    c.setFont(b, 10)
    c.drawString(72, H - 160, "1 Introduction")
    y = H - 176
    for s in LEFT:
        y = _wrap(c, s, 72, y, col_w)
    y = H - 160
    for s in RIGHT:
        y = _wrap(c, s, 72 + col_w + 24, y, col_w)
    c.showPage()
    c.save()
    return path


def test_a_byline_is_read_whole_and_is_not_a_heading(tmp_path):
    doc = load_file(paper_pdf(tmp_path / "paper.pdf"))
    assert [b.text for b in doc.blocks if b.kind == "heading"] == ["A Study of Engines", "1 Introduction"]
    byline = next(b for b in doc.blocks if "Lovelace" in b.text)
    assert byline.kind == "text" and byline.section == ("A Study of Engines",)
    assert byline.text.startswith("Ada Lovelace*, Charles Babbage\u2020, Mary Somerville")
    left = next(b for b in doc.blocks if "Left column sentence number 1 " in b.text)
    assert left.section == ("A Study of Engines", "1 Introduction")
    # column by column: the whole left column before the right one
    assert doc.text.index("Left column sentence number 12") < doc.text.index("Right column sentence number 1 ")


@pytest.mark.parametrize(("line", "byline"), [
    ("Vladimir Karpukhin\u2217, Barlas Oguz\u2217, Sewon Min\u2020, Patrick Lewis,", True),
    ("Ledell Wu, Sergey Edunov, Danqi Chen\u2021, Wen-tau Yih", True),
    ("John Smith1, Jane Doe2", True),
    ("{vladk, barlaso}@fb.com", True),
    ("Alice Brown, Bob Green and Carol White", True),
    ("张三1，李四2，王五3", True),
    ("1 Introduction", False),
    ("Methods, Results and Discussion", False),
    ("Data Collection, Model Training and Evaluation", False),
    ("Q1, Q2 and Q3 Results", False),
    ("总则，范围，定义", False),
])
def test_byline_detection(line, byline):
    from zhiku.ingest.loaders.pdf_headings import looks_like_byline

    assert looks_like_byline(line) is byline


def test_a_loose_accent_does_not_split_the_word():
    from zhiku.ingest.loaders.pdf_text import normalize_pdf_text

    assert normalize_pdf_text("Barlas Og\u02d8uz") == "Barlas Oguz"
    assert normalize_pdf_text("café e\u0301") == "café é"


def _scaled_text(c, x, y, text, font, scale):
    """Text drawn the way some book typesetters do: ``1 Tf`` and a scaled text matrix."""
    t = c.beginText()
    t.setTextTransform(scale, 0, 0, scale, x, y)
    t.setFont(font, 1)
    t.textOut(text)
    c.drawText(t)


def test_sizes_set_by_the_text_matrix_still_make_headings(tmp_path):
    c = canvas.Canvas(str(tmp_path / "book.pdf"), pagesize=A4)
    _scaled_text(c, 72, H - 90, "CHAPTER ONE THE RIVER", "Helvetica", 20)
    y = H - 130
    for i in range(8):
        _scaled_text(c, 72, y, f"Line {i} of the body text talks about the river and its banks.", "Helvetica", 10.5)
        y -= 14
    c.showPage()
    c.save()
    doc = load_file(tmp_path / "book.pdf")
    assert [(b.kind, b.text) for b in doc.blocks][0] == ("heading", "CHAPTER ONE THE RIVER")
    body = doc.blocks[1]
    assert body.section == ("CHAPTER ONE THE RIVER",)
    # words a point apart are one run of words, not one run per word
    assert body.text.startswith("Line 0 of the body text talks about the river and its banks. Line 1 of")


def test_letter_spaced_titles_read_as_words(tmp_path):
    c = canvas.Canvas(str(tmp_path / "cover.pdf"), pagesize=A4)
    c.setFont("Helvetica-Bold", 24)
    x = 72
    for ch in "SELECTED":  # letters drawn one by one, wider apart than a normal letter gap
        c.drawString(x, H - 100, ch)
        x += c.stringWidth(ch, "Helvetica-Bold", 24) + 6
    c.drawString(72, H - 140, "V o l u m e")  # letter-spaced with real spaces
    c.setFont("Helvetica", 11)
    c.drawString(72, H - 200, "The first volume collects the early writings.")
    c.showPage()
    c.save()
    doc = load_file(tmp_path / "cover.pdf")
    assert (doc.blocks[0].kind, doc.blocks[0].text) == ("heading", "SELECTED Volume")


def test_digits_of_a_figures_font_without_a_unicode_map_are_read(tmp_path):
    """Old-style figures fonts put 1..0 on the shifted keys: "March !(@^" is March 1926."""
    import os

    import reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("Figures", os.path.join(os.path.dirname(reportlab.__file__), "fonts", "VeraBd.ttf")))
    c = canvas.Canvas(str(tmp_path / "dated.pdf"), pagesize=A4)
    c.setFont("Helvetica", 11)
    c.drawString(72, H - 100, "Written in March")
    c.setFont("Figures", 11)
    c.drawString(72 + c.stringWidth("Written in March ", "Helvetica", 11), H - 100, "%, !(@^")
    c.setFont("Helvetica", 11)
    c.drawString(72, H - 130, "Who are our enemies? Who are our friends (1)!")
    c.showPage()
    c.save()
    doc = load_file(tmp_path / "dated.pdf")
    assert "Written in March 5, 1926" in doc.text
    assert "Who are our enemies? Who are our friends (1)!" in doc.text  # a text font's "!" stays


def _garbled_pdf(path: Path, tmp: Path) -> Path:
    """A scan with a text layer in a font without a Unicode map, and a real line on top."""
    import os

    import reportlab
    from PIL import Image, ImageDraw, ImageFont
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    size = (420, 220)
    img = Image.new("RGB", (size[0] * 3, size[1] * 3), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf"), 34)
    for i, line in enumerate(GARBLED_LINES):
        draw.text((60, 200 + 70 * i), line, fill="black", font=font)
    img.save(tmp / "scan.png")
    pdfmetrics.registerFont(TTFont("Vera", os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf")))
    c = canvas.Canvas(str(path), pagesize=size)
    c.drawImage(str(tmp / "scan.png"), 0, 0, *size)
    c.setFont("Helvetica", 10)
    c.drawString(20, size[1] - 30, "Hangzhou warehouse, quarterly inventory report")
    t = c.beginText(20, size[1] - 70)
    t.setTextRenderMode(3)  # invisible, as OCR text layers are
    t.setFont("Vera", 11)
    for line in GARBLED_LINES:  # code points the font has no glyph for: no Unicode map survives
        t.textLine("".join(" " if ch == " " else chr(0xE000 + ord(ch)) for ch in line))
    c.drawText(t)
    c.showPage()
    c.save()
    return path


GARBLED_LINES = ["Green tea pallets stand in aisle seven.", "Oolong tea is kept by the loading dock."]


def test_a_page_of_unmapped_glyphs_is_ocrd_and_marked(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime")
    doc = load_file(_garbled_pdf(tmp_path / "garbled.pdf", tmp_path))
    assert doc.meta["garbled_pages"] == [1] and doc.meta["ocr_pages"] == [1]
    assert all(b.meta.get("ocr") for b in doc.blocks)
    text = " ".join(doc.text.split()).lower()
    assert "green tea pallets stand in aisle seven" in text
    assert "oolong tea is kept by the loading dock" in text


def test_without_ocr_a_garbled_page_keeps_its_readable_text_and_is_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHIKU_DISABLE_OCR", "1")
    doc = load_file(_garbled_pdf(tmp_path / "garbled.pdf", tmp_path))
    assert doc.text == "Hangzhou warehouse, quarterly inventory report"
    assert doc.meta["garbled_pages"] == [1] and doc.meta["pages_need_ocr"] == [1]


UNRULED = [("Region", "Q1", "Q2", "Q3"), ("East", "1,200", "1,350", "1,410"),
           ("South", "800", "760", "905"), ("West", "455", "610", "580"), ("North", "1,020", "990", "1,115")]


def unruled_table_pdf(path: Path) -> Path:
    """A table set with tab stops and no rules, between two paragraphs."""
    c = canvas.Canvas(str(path), pagesize=A4)
    _wrap(c, "Sales by region for the first three quarters are listed below, in thousands of yuan.",
          72, H - 100, W - 144, size=11, leading=14)
    y = H - 140
    for i, row in enumerate(UNRULED):
        c.setFont("Helvetica-Bold" if i == 0 else "Helvetica", 10)
        c.drawString(72, y, row[0])
        for x, cell in zip((220, 310, 400), row[1:], strict=True):
            c.drawRightString(x + 40, y, cell)  # numbers right-aligned, as in a spreadsheet
        y -= 15
    _wrap(c, "The east region grew fastest over the period.", 72, y - 20, W - 144, size=11, leading=14)
    c.showPage()
    c.save()
    return path


def test_a_table_without_rules_becomes_a_markdown_table(tmp_path):
    doc = load_file(unruled_table_pdf(tmp_path / "sales.pdf"))
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1 and doc.meta["tables"] == 1
    lines = tables[0].text.splitlines()
    assert lines[0] == "| Region | Q1 | Q2 | Q3 |"
    assert "| South | 800 | 760 | 905 |" in lines and "| North | 1,020 | 990 | 1,115 |" in lines
    assert tables[0].page == 1
    order = [b.kind for b in doc.blocks]
    assert order == ["text", "table", "text"]
    assert "1,350" not in doc.blocks[0].text + doc.blocks[2].text


def test_two_columns_of_prose_and_a_key_value_list_are_not_tables(tmp_path):
    from tests.ingest.test_pdf_layout import two_column_pdf

    c = canvas.Canvas(str(tmp_path / "memo.pdf"), pagesize=A4)
    y = H - 100
    for key, value in (("To:", "All staff of the Hangzhou office"), ("From:", "The facilities team"),
                       ("Subject:", "Heating will be switched off on Friday"), ("Date:", "Monday morning")):
        c.setFont("Helvetica-Bold", 11)
        c.drawString(72, y, key)
        c.setFont("Helvetica", 11)
        c.drawString(160, y, value)
        y -= 16
    c.showPage()
    # a two-column page whose columns are set so close that they might pass for cells
    c.setFont("Helvetica", 10)
    y = H - 100
    for left, right in zip(LEFT, RIGHT, strict=True):
        c.drawString(72, y, left[:44])
        c.drawString(320, y, right[:44])
        y -= 13
    c.showPage()
    c.save()
    for doc in (load_file(tmp_path / "memo.pdf"), load_file(two_column_pdf(tmp_path / "cols.pdf"))):
        assert not [b for b in doc.blocks if b.kind == "table"], doc.text[:300]
        assert "tables" not in doc.meta


def test_a_picture_of_a_table_without_rules_becomes_a_markdown_table(tmp_path):
    pytest.importorskip("rapidocr_onnxruntime")
    import os

    import reportlab
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf"), 26)
    img = Image.new("RGB", (900, 330), "white")
    draw = ImageDraw.Draw(img)
    for r, row in enumerate(UNRULED):
        for x, cell in zip((40, 330, 500, 670), row, strict=True):
            draw.text((x, 30 + 56 * r), cell, fill="black", font=font)
    img.save(tmp_path / "table.png")
    doc = load_file(tmp_path / "table.png")
    (table,) = [b for b in doc.blocks if b.kind == "table"]
    lines = table.text.splitlines()
    assert lines[0] == "| Region | Q1 | Q2 | Q3 |"
    assert "| West | 455 | 610 | 580 |" in lines and table.meta["ocr"] is True


def test_a_watermark_stamped_across_the_text_is_removed(tmp_path):
    """sw-flp-1965-v1.pdf: "NOT FOR COMMERCIAL DISTRIBUTION" in 24 pt over the body text
    merged with the body line it crossed, which then read as a heading."""
    c = canvas.Canvas(str(tmp_path / "stamped.pdf"), pagesize=A4)
    for n in range(1, 5):
        y = H - 100
        for i in range(14):
            c.setFont("Helvetica", 10.5)
            c.drawString(72, y, f"Body line {i} of page {n} tells how the peasants organised themselves.")
            y -= 13
        c.setFont("Helvetica", 24)
        c.setFillGray(0.8)
        c.drawString(150, H - 178, "DISTRIBUTION")  # across the seventh body line
        c.setFillGray(0)
        c.showPage()
    c.save()
    doc = load_file(tmp_path / "stamped.pdf")
    assert "DISTRIBUTION" not in doc.text and doc.meta["removed_watermarks"] == 4
    assert not [b for b in doc.blocks if b.kind == "heading"]
    assert "Body line 6 of page 3 tells how the peasants organised themselves." in doc.text


@pytest.mark.parametrize(("line", "size", "heading"), [
    ("Reliance Industries Limited (RIL)  Corporate Overview  Management Review", 14, False),
    ("Big achievements follow if you dream big. Reliance is a proof of the power of dreams.", 14, False),
    ("Integrated Annual Report 2021-22", 14, True),
    ("第一章  总则", 14, True),
])
def test_side_by_side_flows_and_pull_quotes_are_not_headings(line, size, heading):
    from zhiku.ingest.loaders.pdf_headings import HeadingLevels

    levels = HeadingLevels(10.0, [10.0, 14.0])
    assert (levels.level(size, False, line, alone=True) is not None) is heading
