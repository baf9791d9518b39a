"""OCR (rapidocr-onnxruntime, the ``ocr`` extra): pictures, scanned PDF pages, pictures in
docx/pptx, and the bisheng samples compared with what a person reads in them.

OCR takes seconds per picture on two cores: these tests are marked ``slow``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from zhiku.ingest.loaders import load_file

pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra is not installed")
pytestmark = pytest.mark.slow

SHARED_DOCS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "docs"
CJK_FONTS = [
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
]
ZH_LINES = ["知识库问答系统支持扫描文件", "第二行：表格和图片中的文字"]
EN_LINES = ["Scanned pages are read by OCR", "The second line ends here"]


def _font(size: int):
    from PIL import ImageFont

    for path in CJK_FONTS:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return None


def _cjk_font_or_skip(size: int = 40):
    font = _font(size)
    if font is None:
        pytest.skip("no CJK font (apt-get install fonts-noto-cjk): Chinese OCR not tested")
    return font


def _render(lines: list[str], font, size=(1200, 400)):
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((60, 60 + i * 90), line, font=font, fill="black")
    return img


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def accuracy(got: str, want: str) -> float:
    """Character similarity of the two texts, ignoring spaces and punctuation."""
    return difflib.SequenceMatcher(None, _squash(got), _squash(want)).ratio()


def test_png_with_chinese_and_english_lines(tmp_path):
    font = _cjk_font_or_skip()
    path = tmp_path / "notice.png"
    _render(ZH_LINES + EN_LINES, font, size=(1200, 460)).save(path)
    doc = load_file(path)
    assert all(b.meta["ocr"] is True for b in doc.blocks)
    assert doc.blocks[0].meta["ocr_confidence"] > 0.8
    text = doc.text
    for line in ZH_LINES + EN_LINES:
        assert accuracy(text, line) > 0 and _squash(line) in _squash(text), line
    # reading order is line by line, top to bottom
    squashed = _squash(text)
    assert [squashed.index(_squash(x)) for x in ZH_LINES + EN_LINES] == sorted(
        squashed.index(_squash(x)) for x in ZH_LINES + EN_LINES)


def test_scanned_pdf_is_ocrd_and_marked(tmp_path):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _font(40)
    lines = (ZH_LINES if font else []) + EN_LINES
    if font is None:
        from PIL import ImageFont

        font = ImageFont.load_default(size=40)
    image = tmp_path / "page.png"
    _render(lines, font, size=(1240, 1754)).save(image)
    pdf = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(pdf), pagesize=A4)
    c.drawImage(str(image), 0, 0, *A4)  # the picture is the page's only content
    c.showPage()
    c.save()
    doc = load_file(pdf)
    assert doc.meta["ocr_pages"] == [1] and doc.pages == 1
    assert all(b.meta.get("ocr") is True and b.page == 1 for b in doc.blocks)
    for line in lines:
        assert _squash(line) in _squash(doc.text), line
    if not _font(40):
        pytest.skip("no CJK font: only the English lines of the scan were checked")


def test_large_picture_in_docx_is_ocrd(tmp_path):
    import docx

    font = _font(40)
    lines = EN_LINES
    if font is None:
        from PIL import ImageFont

        font = ImageFont.load_default(size=40)
    image = tmp_path / "figure.png"
    _render(lines, font, size=(1000, 260)).save(image)
    d = docx.Document()
    d.add_heading("Report", level=1)
    d.add_paragraph("Text before the picture.")
    d.add_picture(str(image))
    d.add_paragraph("Text after the picture.")
    d.save(tmp_path / "r.docx")
    doc = load_file(tmp_path / "r.docx")
    texts = [b.text for b in doc.blocks]
    ocr = [b for b in doc.blocks if b.meta.get("ocr")]
    assert ocr and ocr[0].section == ("Report",) and ocr[0].meta["image"].endswith(".png")
    assert _squash(EN_LINES[0]) in _squash(ocr[0].text)
    before = texts.index("Text before the picture.")
    after = texts.index("Text after the picture.")
    assert before < texts.index(ocr[0].text) < after
    assert doc.meta["ocr_images"] == 1


def test_picture_in_pptx_is_ocrd_with_its_slide_number(tmp_path):
    from PIL import ImageFont
    from pptx import Presentation
    from pptx.util import Inches

    font = _font(40) or ImageFont.load_default(size=40)
    image = tmp_path / "slide.png"
    _render(EN_LINES, font, size=(1000, 260)).save(image)
    prs = Presentation()
    prs.slides.add_slide(prs.slide_layouts[5]).shapes.title.text = "Intro"
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = "Scans"
    slide.shapes.add_picture(str(image), Inches(1), Inches(2), width=Inches(8))
    prs.save(tmp_path / "deck.pptx")
    doc = load_file(tmp_path / "deck.pptx")
    ocr = [b for b in doc.blocks if b.meta.get("ocr")]
    assert ocr and ocr[0].page == 2 and ocr[0].section == ("Scans",)
    assert _squash(EN_LINES[1]) in _squash(ocr[0].text)


def test_blank_picture_is_a_clean_load_error(tmp_path):
    from PIL import Image

    from zhiku.errors import LoadError

    Image.new("RGB", (400, 300), "white").save(tmp_path / "blank.jpg")
    with pytest.raises(LoadError, match="^blank.jpg: no text found"):
        load_file(tmp_path / "blank.jpg")


# ---- the shared samples, compared with what a person reads in them -------------------------
MAOXUAN_SAMPLE1 = """我们的经济政策
（一九三四年一月）
只有最无耻的国民党军阀，才会在他们自己统治的区域内弄到差不多民穷财尽的地步，还会天天造谣，说红色区域如何破坏不堪。帝国主义和国民党的目的，在于破坏红色区域，破坏正在前进的红色区域的经济建设工作，破坏已经得到解放的千百万工农民众的福利。因此，他们不但组织了武装力量进行军事上的“围剿”，而且在经济上实行残酷的封锁政策。然而我们领导广大的群众和红军，不但屡次击溃了敌人的“围剿”，而且从事于一切可能的和必须的经济建设，去冲破敌人的经济封锁的毒计。我们的这一个步骤，现在也着着胜利了。
我们的经济政策的原则，是进行一切可能的和必须的经济方面的建设，集中经济力量供给战争，同时极力改良民众的生活，巩固工农在经济方面的联合，保证无产阶级对于农民的领导，争取国营经济对私人经济的领导，造成将来发展到社会主义的前提。
我们的经济建设的中心是发展农业生产，发展工业生产，发展对外贸易和发展合作社。"""


def shared(rel: str) -> Path:
    if not SHARED_DOCS.is_dir():
        pytest.skip(f"shared documents not found at {SHARED_DOCS}")
    return SHARED_DOCS / rel


@pytest.mark.shared
def test_shared_maoxuan_scan_reads_as_a_person_reads_it():
    doc = load_file(shared("bisheng/maoxuan_sample1.jpg"))
    assert accuracy(doc.text, MAOXUAN_SAMPLE1) >= 0.97
    paragraphs = [p for b in doc.blocks for p in b.text.split("\n\n")]
    assert paragraphs[0] == "我们的经济政策"
    assert paragraphs[-1] == "我们的经济建设的中心是发展农业生产，发展工业生产，发展对外贸易和发展合作社。"
    assert len(paragraphs) == 5  # title, date, three paragraphs: wrapped lines joined


@pytest.mark.shared
def test_shared_table_picture_becomes_a_markdown_table():
    doc = load_file(shared("bisheng/table_test_001.jpg"))
    tables = [b for b in doc.blocks if b.kind == "table"]
    assert len(tables) == 1
    rows = tables[0].text.splitlines()
    assert rows[0].startswith("| 债券简称 |") and "22步步高SCP001" in rows[0]
    assert "| 主承销商 | 办公地址 | 北京市西城区金融大街25号 | 长沙市岳麓区滨江路53号楷林商务中心B座 |" in rows
    assert any("| 联系电话 | 010-67596478、0731-84529482 | 0731-89736248 |" in r for r in rows)
    prose = doc.text.replace(tables[0].text, "")
    assert "2.存续债务融资工具中介机构情况" in prose and "湖南省长沙市天心区芙蓉中路三段266号" in prose
    assert "长沙银行股份有限公司" not in prose  # the table's text is only in the table
    texts = [b.text for b in doc.blocks]
    assert texts.index(tables[0].text) < len(texts) - 1  # text after the table follows it


@pytest.mark.shared
def test_shared_wikipedia_screenshot_table():
    doc = load_file(shared("bisheng/maoxuan_intro_with_table.jpg"))
    table = next(b for b in doc.blocks if b.kind == "table")
    lines = table.text.splitlines()
    assert re.sub(r"\s", "", lines[0]) == "|Volume|SubjectRange|PublicationDate|N°ofArticles|"
    assert len(lines) == 7 and "1949-1957" in lines[-1] and "March 1977" in lines[-1]
    assert "Mao Zedong Anthology Editorial Committee" in doc.text


@pytest.mark.shared
def test_shared_bisheng_book_scanned_pages():
    doc = load_file(shared("bisheng/sw-flp-1965-v1.pdf"))
    assert doc.pages == 362 and 9 in doc.meta["ocr_pages"]
    portrait = [b for b in doc.blocks if b.page == 9]
    assert portrait and all(b.meta.get("ocr") for b in portrait)
    assert "毛泽东" in " ".join(b.text for b in portrait)  # the signature under the portrait
    text_pages = [b for b in doc.blocks if not b.meta.get("ocr")]
    assert len(text_pages) > 300


@pytest.mark.shared
def test_shared_small_scan_on_an_empty_page_is_ocrd():
    # the picture covers a tenth of the page, and the page has no other text: still a scan
    doc = load_file(shared("unstructured/pdf/single_table.pdf"))
    assert doc.meta["ocr_pages"] == [1]
    assert "Chipper" in doc.text and "64,058" in doc.text
