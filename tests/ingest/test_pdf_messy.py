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
