"""PDFs as they come from the wild (issue 17 item 5): words placed one by one with no space
characters, rotated text, running headers on every page, garbage text layers, Korean scans.
Every fixture is drawn here with reportlab."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku.ingest.loaders import load_file

pytest.importorskip("reportlab")

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

W, H = A4
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "docs"


def _text(doc) -> str:
    return "\n".join(b.text for b in doc.blocks)


def positioned_words_pdf(path: Path) -> Path:
    """Words each drawn at its own position with no space character between them (as many
    typesetters and scanners' text layers do), a CJK line set character by character, and
    a rotated imprint line whose words are separated by real spaces."""
    c = canvas.Canvas(str(path), pagesize=A4)
    y = H - 100
    for line in ("First Edition August 1965 printed in Peking",
                 "The present volume is an English translation of the second edition"):
        x = 72.0
        c.setFont("Helvetica", 11)
        for word in line.split():
            c.drawString(x, y, word)
            x += c.stringWidth(word, "Helvetica", 11) + 3.2  # a word gap, no space glyph
        y -= 16
    c.setFont("STSong-Light", 12) if _cjk_font() else None
    if _cjk_font():
        x = 72.0
        for ch in "毛泽东选集第一卷":
            c.drawString(x, y, ch)
            x += 12.5  # tight CJK set: no spaces belong between these
        y -= 16
    c.saveState()
    c.translate(40, 300)
    c.rotate(90)
    c.setFont("Helvetica", 9)
    c.drawString(0, 0, "Printed in the People's Republic of China")
    c.restoreState()
    c.showPage()
    c.save()
    return path


def _cjk_font() -> bool:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    try:
        pdfmetrics.getFont("STSong-Light")
    except KeyError:
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return True


def test_words_placed_apart_and_rotated_text_are_read_with_spaces(tmp_path: Path) -> None:
    text = _text(load_file(positioned_words_pdf(tmp_path / "words.pdf")))
    assert "First Edition August 1965 printed in Peking" in text
    assert "English translation of the second edition" in text
    assert "1965August" not in text and "EditionAugust" not in text
    assert "Printed in the People's Republic of China" in text  # rotated, spaces kept
    assert "毛泽东选集第一卷" in text  # no spaces pushed between CJK characters


def test_shared_book_imprint_is_not_glued() -> None:
    path = SHARED / "bisheng" / "sw-flp-1965-v1.pdf"
    if not path.exists():
        pytest.skip(f"{path} absent (../shared/data/docs not mounted)")
    import pypdfium2 as pdfium

    from zhiku.ingest.loaders.pdf_text import page_runs

    pdf = pdfium.PdfDocument(str(path))
    try:
        page = pdf[10]
        runs = page_runs(page.get_textpage(), (0, 0, page.get_width(), page.get_height())).runs
    finally:
        pdf.close()
    text = " ".join(s.text for s in runs)
    assert "1965 August First Edition" in text and "1965AugustFirstEdition" not in text


LOREM = ("The committee met in the spring and agreed on the budget for the coming year. "
         "Every department sent its figures before the end of the month, and the totals "
         "were checked twice by the treasurer before they were published.")


def running_headers_pdf(path: Path) -> Path:
    """Six pages: a large bold title stamped mid-page-top (below the margin band) and a bold
    running line on every page, chapters starting on pages 1 and 4."""
    c = canvas.Canvas(str(path), pagesize=A4)
    for page in range(1, 7):
        c.setFont("Helvetica-Bold", 20)
        c.drawCentredString(W / 2, H - 110, "ACME ANNUAL REVIEW")  # below the top margin band
        c.setFont("Helvetica-Bold", 10)
        c.drawString(72, H - 135, "Confidential draft")
        y = H - 180
        if page in (1, 4):
            c.setFont("Helvetica-Bold", 16)
            c.drawString(72, y, "Chapter One: Budget" if page == 1 else "Chapter Two: Staff")
            y -= 30
        c.setFont("Helvetica", 10)
        for i in range(6):
            c.drawString(72, y, f"Page {page} line {i}: " + LOREM[:70])
            y -= 14
        c.showPage()
    c.save()
    return path


def test_lines_repeated_at_one_place_are_not_headings(tmp_path: Path) -> None:
    doc = load_file(running_headers_pdf(tmp_path / "review.pdf"))
    headings = [b.text for b in doc.blocks if b.kind == "heading"]
    assert headings == ["Chapter One: Budget", "Chapter Two: Staff"]
    text = _text(doc)
    assert "ACME ANNUAL REVIEW" not in text and "Confidential draft" not in text
    assert "Page 6 line 5" in text  # the body stays
    staff = [b for b in doc.blocks if "Page 5 line 0" in b.text][0]
    assert staff.section == ("Chapter Two: Staff",)
    assert all(len(b.text.split()) > 1 for b in doc.blocks)  # no one-word chunks
    # the 20 pt title goes as a watermark (1.5x the body); the bold running line as a repeat
    assert doc.meta["removed_watermarks"] == 6 and doc.meta["removed_repeated_headings"] == 6


def test_a_title_once_and_a_repeated_word_in_the_body_stay(tmp_path: Path) -> None:
    """Only heading-like lines repeated at one place go: two pages are not enough."""
    path = tmp_path / "two.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    for page in (1, 2):
        c.setFont("Helvetica-Bold", 18)
        c.drawString(72, H - 120, "Summary")
        c.setFont("Helvetica", 10)
        c.drawString(72, H - 150, f"Page {page}: " + LOREM[:80])
        c.showPage()
    c.save()
    doc = load_file(path)
    assert [b.text for b in doc.blocks if b.kind == "heading"] == ["Summary", "Summary"]


def test_a_title_on_covers_and_dividers_does_not_head_the_whole_book(tmp_path: Path) -> None:
    """A book's title in display type on its cover and on two part dividers, each at another
    height: left in, it headed every section path of the book ("MAO TSE-TUNG" in
    sw-flp-1965-v1.pdf)."""
    path = tmp_path / "book.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    for page, (title_y, chapter) in enumerate(
            [(H - 300, None), (H - 200, "Part One"), (H - 420, "Part Two")], 1):
        c.setFont("Helvetica-Bold", 30)
        c.drawCentredString(W / 2, title_y, "SELECTED ESSAYS")
        c.setFont("Helvetica", 10)
        y = H - 480
        if chapter:
            c.setFont("Helvetica-Bold", 14)
            c.drawString(72, y, chapter)
            y -= 24
            c.setFont("Helvetica", 10)
        for i in range(5):
            c.drawString(72, y, f"Page {page} line {i}: " + LOREM[:70])
            y -= 14
        c.showPage()
    c.save()
    doc = load_file(path)
    assert [b.text for b in doc.blocks if b.kind == "heading"] == ["Part One", "Part Two"]
    part_two = [b for b in doc.blocks if "Page 3 line 0" in b.text][0]
    assert part_two.section == ("Part Two",)
    assert "SELECTED ESSAYS" not in _text(doc)


SCAN_LINES = ["Green tea pallets stand in aisle seven.", "Oolong tea is kept by the loading dock."]
#: what a scan's text layer holds when its producer wrote UTF-8 read back as cp1252
MOJIBAKE = "仓库的绿茶托盘在第七通道。乌龙茶放在装卸码头旁边。".encode().decode("cp1252", "replace")


def garbage_layer_pdf(path: Path, tmp: Path, layer: list[str]) -> Path:
    """A scanned page (a picture of two English lines) under an invisible text layer of junk."""
    import os

    import reportlab
    from PIL import Image, ImageDraw, ImageFont

    size = (420, 220)
    img = Image.new("RGB", (size[0] * 3, size[1] * 3), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf"), 34)
    for i, line in enumerate(SCAN_LINES):
        draw.text((60, 200 + 70 * i), line, fill="black", font=font)
    img.save(tmp / "scan.png")
    c = canvas.Canvas(str(path), pagesize=size)
    c.drawImage(str(tmp / "scan.png"), 0, 0, *size)
    t = c.beginText(20, size[1] - 70)
    t.setTextRenderMode(3)  # invisible, as OCR text layers are
    t.setFont("Helvetica", 11)
    for line in layer:
        t.textLine(line)
    c.drawText(t)
    c.showPage()
    c.save()
    return path


LAYERS = {
    "mojibake": [MOJIBAKE[i:i + 40] for i in range(0, len(MOJIBAKE), 40)],
    "symbols": ["¤¦ §¨ ©ª«¬ ®¯°± ²³´µ ¶·¸¹ º»¼½ ¾¿×÷ ¤¦§¨", "«¬®¯ °±²³ ´µ¶· ¸¹º» ¼½¾¿ ×÷¤¦ §¨©ª ¬®"],
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_a_garbage_text_layer_is_ocrd_instead(tmp_path: Path, kind: str) -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    doc = load_file(garbage_layer_pdf(tmp_path / "scan.pdf", tmp_path, LAYERS[kind]))
    assert doc.meta["garbled_pages"] == [1] and doc.meta["ocr_pages"] == [1]
    text = " ".join(doc.text.split()).lower()
    assert "green tea pallets stand in aisle seven" in text
    assert "æ" not in text and "§" not in text


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_without_ocr_a_garbage_layer_is_not_indexed(tmp_path: Path, kind: str, monkeypatch) -> None:
    from zhiku.errors import MissingDependency

    monkeypatch.setenv("ZHIKU_DISABLE_OCR", "1")
    with pytest.raises(MissingDependency):  # nothing readable left: the OCR extra is named
        load_file(garbage_layer_pdf(tmp_path / "scan.pdf", tmp_path, LAYERS[kind]))


def test_a_clean_text_layer_over_a_scan_is_trusted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ZHIKU_DISABLE_OCR", "1")
    doc = load_file(garbage_layer_pdf(tmp_path / "scan.pdf", tmp_path, SCAN_LINES))
    assert "garbled_pages" not in doc.meta and "ocr_pages" not in doc.meta
    assert "Green tea pallets stand in aisle seven." in doc.text


@pytest.mark.parametrize("text,garbage", [
    ("The committee met in the spring and agreed on the budget for the coming year.", False),
    ("中华人民共和国成立于1949年，首都北京。中华人民共和国成立于1949年，首都北京。", False),
    ("무이자할부, 다이어트할부, 삼성카드 할인이 적용된 일시불 및 할부 이용금액 무이자할부", False),
    ("| 1 | 2.5 | 3,400 | 12% | 7 | 8.25 | 1,000 | 3% | 9 | 10 | 11 | 12 |", False),
    ("Les données de la société étaient déjà prêtes à être publiées. As ações são boas.", False),
    ("The cafÃ© menu: â€œcrÃ¨me brÃ»léeâ€ costs â‚¬5 Ã  la carte, â€œcafÃ©â€", True),
    (MOJIBAKE, True),
    ("锟斤拷锟斤拷锟斤拷锟斤拷锟斤拷锟斤拷锟斤拷锟斤拷锟斤拷锟斤拷锟斤拷锟斤拷锟斤拷锟斤拷", True),
    (LAYERS["symbols"][0] * 2, True),
])
def test_garbage_text(text: str, garbage: bool) -> None:
    from zhiku.ingest.loaders.pdf_text import garbage_text, normalize_pdf_text

    assert garbage_text(normalize_pdf_text(text)) is garbage


def mojibake_layer_pdf(path: Path) -> Path:
    """For bench/parsing.py: the scan under a mojibake text layer."""
    return garbage_layer_pdf(path, path.parent, LAYERS["mojibake"])


def symbol_soup_layer_pdf(path: Path) -> Path:
    """For bench/parsing.py: the scan under a symbol-soup text layer."""
    return garbage_layer_pdf(path, path.parent, LAYERS["symbols"])
