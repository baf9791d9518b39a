"""Pictures inside PDF, DOCX and PPTX files (zhiku/ingest/loaders/pictures.py): kept with their page
and place in the text, tiny and repeated ones skipped, text pictures OCR'd where they stand.

The documents are made here (fpdf2, python-docx, python-pptx) with pictures drawn by Pillow. The
tests without OCR turn it off (``ZHIKU_DISABLE_OCR``) and are quick; those reading the text in a
picture need the ``ocr`` extra and are marked slow."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from zhiku.ingest.loaders import load_file
from zhiku.ingest.loaders.pictures import Picture, _normalise

TEXT_LINES = ["Quarterly revenue grew", "North region leads"]


def drawing(seed: int = 0, size: tuple[int, int] = (400, 300)) -> bytes:
    """A chart-like picture without text (PNG): bars whose heights depend on ``seed``."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    for i in range(5):
        h = 40 + ((seed * 37 + i * 53) % 200)
        d.rectangle((30 + i * 70, size[1] - 20 - h, 80 + i * 70, size[1] - 20), fill=(40 * i, 90, 200 - 30 * i))
    d.line((20, size[1] - 20, size[0] - 20, size[1] - 20), fill="black", width=3)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def text_picture(lines: list[str] = TEXT_LINES, fmt: str = "PNG") -> bytes:
    """A picture of text (for OCR)."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (1000, 120 + 90 * len(lines)), "white")
    d = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        d.text((50, 50 + i * 90), line, fill="black", font=ImageFont.load_default(size=48))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def logo() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (160, 80), "white")
    ImageDraw.Draw(img).ellipse((10, 10, 150, 70), fill="navy")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def bullet() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buf, format="PNG")
    return buf.getvalue()


def _file(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


def make_pdf(path: Path, pictures: dict[int, bytes], pages: int = 4, with_logo: bool = True) -> Path:
    """A PDF of ``pages`` pages of text; ``pictures`` by page number; a logo on every page."""
    from fpdf import FPDF

    tmp = path.parent
    pdf = FPDF()
    logo_file = _file(tmp, "logo.png", logo())
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("helvetica", size=12)
        pdf.set_y(150)
        pdf.multi_cell(0, 8, " ".join(f"Sentence {j} of page {n} about subject {chr(64 + n)}." for j in range(10)))
        if with_logo:
            pdf.image(str(logo_file), x=170, y=5, w=25)
        if n in pictures:
            pdf.image(io.BytesIO(pictures[n]), x=20, y=30, w=150)
    pdf.output(str(path))
    return path


def make_docx(path: Path, pictures: list[bytes], logos: int = 0) -> Path:
    """Heading, a paragraph, each picture followed by a paragraph; a tiny bullet; ``logos`` logos."""
    import docx
    from docx.shared import Inches

    d = docx.Document()
    d.add_heading("Report", level=1)
    d.add_paragraph("Text before the pictures.")
    for i, data in enumerate(pictures):
        d.add_picture(io.BytesIO(data), width=Inches(4))
        d.add_paragraph(f"Text after picture {i + 1}.")
    d.add_picture(io.BytesIO(bullet()))
    for _ in range(logos):
        d.add_picture(io.BytesIO(logo()))
        d.add_paragraph("A section with the company logo.")
    d.save(str(path))
    return path


def make_pptx(path: Path, pictures: dict[int, bytes], slides: int = 3) -> Path:
    """Slides titled "Slide n" with a line of text; ``pictures`` by slide number."""
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    for n in range(1, slides + 1):
        slide = prs.slides.add_slide(prs.slide_layouts[5])
        slide.shapes.title.text = f"Slide {n}"
        box = slide.shapes.add_textbox(Inches(1), Inches(1.5), Inches(8), Inches(1))
        box.text_frame.text = f"Notes on topic {n} of the deck."
        if n in pictures:
            slide.shapes.add_picture(io.BytesIO(pictures[n]), Inches(1), Inches(3), width=Inches(6))
    prs.save(str(path))
    return path


def _pictures(doc) -> list[Picture]:
    return list(doc.meta.get("pictures") or [])


@pytest.fixture
def no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIKU_DISABLE_OCR", "1")


def test_docx_pictures_are_kept_where_they_are_drawn(tmp_path: Path, no_ocr: None) -> None:
    chart, other = drawing(1), drawing(2)
    doc = load_file(make_docx(tmp_path / "r.docx", [chart, other], logos=3))
    pics = _pictures(doc)
    assert [p.data for p in pics] == [chart, other]  # PNG kept as is, in reading order
    for p in pics:
        assert p.id == hashlib.sha256(p.data).hexdigest() and p.mime == "image/png"
        assert (p.width, p.height) == (400, 300) and p.section == ("Report",)
    assert doc.meta["pictures_skipped"] == {"small": 1, "repeated": 1}  # the bullet; the logo met 3 times
    by_text = {b.text: b for b in doc.blocks}
    # without text of its own, a picture goes with the text before it
    assert by_text["Text before the pictures."].meta["images"] == [pics[0].id]
    assert by_text["Text after picture 1."].meta["images"] == [pics[1].id]
    assert "images" not in by_text["Text after picture 2."].meta


def test_pdf_pictures_keep_their_page_and_a_logo_on_every_page_is_skipped(tmp_path: Path, no_ocr: None) -> None:
    from PIL import Image

    jpeg = io.BytesIO()
    Image.open(io.BytesIO(drawing(3))).save(jpeg, format="JPEG", quality=90)
    doc = load_file(make_pdf(tmp_path / "p.pdf", {2: drawing(1), 3: jpeg.getvalue()}))
    pics = _pictures(doc)
    assert [(p.page, p.mime) for p in pics] == [(2, "image/png"), (3, "image/jpeg")]
    assert doc.meta["pictures_skipped"] == {"repeated": 1}
    for p in pics:
        assert p.id == hashlib.sha256(p.data).hexdigest()
        Image.open(io.BytesIO(p.data)).verify()  # the stored bytes are a picture
        holders = [b for b in doc.blocks if p.id in (b.meta.get("images") or [])]
        assert holders and all(b.page == p.page for b in holders)


def test_pptx_pictures_keep_their_slide(tmp_path: Path, no_ocr: None) -> None:
    doc = load_file(make_pptx(tmp_path / "d.pptx", {2: drawing(4), 3: drawing(5)}))
    pics = _pictures(doc)
    assert [p.page for p in pics] == [2, 3] and [p.section for p in pics] == [("Slide 2",), ("Slide 3",)]
    holder = next(b for b in doc.blocks if pics[0].id in (b.meta.get("images") or []))
    assert holder.text == "Notes on topic 2 of the deck." and holder.page == 2


def test_other_picture_formats_become_png_and_broken_ones_are_counted(tmp_path: Path, no_ocr: None) -> None:
    from PIL import Image

    bmp = io.BytesIO()
    Image.open(io.BytesIO(drawing(6))).save(bmp, format="BMP")
    doc = load_file(make_docx(tmp_path / "b.docx", [bmp.getvalue()]))
    (pic,) = _pictures(doc)
    assert pic.mime == "image/png" and pic.data.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(pic.data)).size == (400, 300)
    assert _normalise(b"\x01\x00\x00\x00 not an EMF Pillow reads") == "unreadable"
    assert _normalise(b"x" * (30 * 2**20)) == "too_large"


def test_a_document_without_pictures_says_nothing_about_them(tmp_path: Path, no_ocr: None) -> None:
    doc = load_file(make_pptx(tmp_path / "plain.pptx", {}))
    assert "pictures" not in doc.meta and "pictures_skipped" not in doc.meta


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pdf", "docx", "pptx"])
def test_text_in_a_picture_is_ocrd_where_the_picture_is(tmp_path: Path, kind: str) -> None:
    pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra is not installed")
    picture = text_picture()
    if kind == "pdf":
        doc = load_file(make_pdf(tmp_path / "t.pdf", {2: picture}, pages=3))
    elif kind == "docx":
        doc = load_file(make_docx(tmp_path / "t.docx", [picture]))
    else:
        doc = load_file(make_pptx(tmp_path / "t.pptx", {2: picture}))
    (pic,) = _pictures(doc)
    ocr = [b for b in doc.blocks if b.meta.get("ocr")]
    assert ocr and all(b.meta["images"] == [pic.id] for b in ocr)
    squashed = "".join(b.text for b in ocr).replace(" ", "").lower()
    assert "quarterlyrevenuegrew" in squashed and pic.ocr_text
    assert doc.meta["ocr_images"] == 1
    if kind != "docx":
        assert {b.page for b in ocr} == {2}
    else:
        texts = [b.text for b in doc.blocks]
        assert texts.index("Text before the pictures.") < texts.index(ocr[0].text) < texts.index(
            "Text after picture 1.")


@pytest.mark.slow
def test_a_picture_of_text_already_on_the_page_is_not_read_twice(tmp_path: Path) -> None:
    """A scan under its own text layer, a screenshot of a paragraph also typed out: the picture is
    kept and shown with the text, its OCR is not indexed a second time."""
    pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra is not installed")
    import docx

    d = docx.Document()
    d.add_paragraph(" ".join(TEXT_LINES) + ".")
    d.add_picture(io.BytesIO(text_picture()))
    d.save(str(tmp_path / "twice.docx"))
    doc = load_file(tmp_path / "twice.docx")
    (pic,) = _pictures(doc)
    assert doc.meta["picture_text_skipped"] == {"ocr_duplicate": 1}
    assert not [b for b in doc.blocks if b.meta.get("ocr")]
    assert doc.blocks[0].meta["images"] == [pic.id] and not pic.ocr_text
