"""Korean (a script the bundled Chinese/English OCR models do not know) is not indexed as
Chinese junk: its lines are counted as unreadable, a page of it is marked unreadable, and the
file's outcome says so (issue 17 item 5). Fixtures are drawn here with Pillow and reportlab."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku.ingest.loaders import load_file

pytest.importorskip("rapidocr_onnxruntime")

KR_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "docs" / "unstructured"
ENGLISH = ["Green tea pallets stand in aisle seven.", "Oolong tea is kept by the loading dock."]
KOREAN = ["적립 혜택은 매출전표 접수 시점 기준으로 적용", "삼성카드의 포인트는 빅포인트로 구분되며",
          "유효기간은 오년으로 만료 시 자동 소멸"]


def _picture(lines: list[str]):
    from PIL import Image, ImageDraw, ImageFont

    if not KR_FONT.exists():
        pytest.skip(f"{KR_FONT} absent: no font to draw Korean with")
    font = ImageFont.truetype(str(KR_FONT), 36, index=0)
    img = Image.new("RGB", (1100, 80 * len(lines) + 60), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((40, 30 + 80 * i), line, fill="black", font=font)
    return img


def _cjk(text: str) -> list[str]:
    return [c for c in text if "\u4e00" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7a3"]


def test_korean_lines_of_a_picture_are_counted_not_indexed(tmp_path: Path) -> None:
    path = tmp_path / "mixed.png"
    _picture([ENGLISH[0], *KOREAN, ENGLISH[1]]).save(path)
    doc = load_file(path)
    text = " ".join(doc.text.split())
    assert ENGLISH[0] in text and ENGLISH[1] in text
    assert _cjk(text) == []  # no Chinese junk for the Korean lines
    assert doc.meta["ocr_unreadable_lines"] >= 2
    assert "pages_unreadable" not in doc.meta  # most of the picture was read

    from zhiku.ingest.loaders.ocr import unreadable_note

    note = unreadable_note(doc)
    assert "OCR could not read" in note and "Korean" in note


def test_a_picture_of_korean_only_is_refused_with_the_reason(tmp_path: Path) -> None:
    from zhiku.errors import LoadError

    path = tmp_path / "korean.png"
    _picture(KOREAN).save(path)
    with pytest.raises(LoadError, match="Korean"):
        load_file(path)


def test_a_scanned_korean_page_of_a_pdf_is_marked_unreadable(tmp_path: Path) -> None:
    pytest.importorskip("reportlab")
    from reportlab.pdfgen import canvas

    _picture(ENGLISH * 3).save(tmp_path / "en.png")
    _picture(KOREAN * 2).save(tmp_path / "ko.png")
    path = tmp_path / "scans.pdf"
    c = canvas.Canvas(str(path), pagesize=(550, 300))
    for name in ("en.png", "ko.png"):
        c.drawImage(str(tmp_path / name), 0, 0, 550, 300)
        c.showPage()
    c.save()
    doc = load_file(path)
    assert doc.meta["pages_unreadable"] == [2]
    assert all(b.page == 1 for b in doc.blocks)
    assert _cjk(doc.text) == []


def test_shared_english_and_korean_picture() -> None:
    path = SHARED / "img" / "english-and-korean.png"
    if not path.exists():
        pytest.skip(f"{path} absent (../shared/data/docs not mounted)")
    doc = load_file(path)
    assert "口是晨品用员" not in doc.text and doc.meta["ocr_unreadable_lines"] >= 2
    assert "Template for day 1" in doc.text
