"""Document loaders on real files: written by the tests themselves, and (marked ``shared``)
the messy real-world files of ../shared/data/docs."""

from __future__ import annotations

import importlib.util
import json
import sys
import zipfile
from pathlib import Path

import pytest

from zhiku.errors import LoadError, NotFound, UnsupportedFormat, ZhikuError
from zhiku.ingest.loaders import decode_bytes, load_file, supported_extensions
from zhiku.ingest.loaders.pdf import normalize_pdf_text
from zhiku.ingest.loaders.sheets import sniff_delimiter


def _builders():
    """fixtures_docs.py beside this file (tests run with --import-mode=importlib, so the
    test directory is not on sys.path)."""
    name = "zhiku_tests_fixtures_docs"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("fixtures_docs.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fx = _builders()


def blocks_of(doc, kind):
    return [b for b in doc.blocks if b.kind == kind]


def find(doc, needle):
    """The first block containing ``needle``."""
    for b in doc.blocks:
        if needle in b.text:
            return b
    raise AssertionError(f"{needle!r} not in {[b.text[:40] for b in doc.blocks]}")


# ------------------------------------------------------------------ encodings


@pytest.mark.parametrize(
    "codec",
    ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
     "utf-32-be", "gb18030", "gbk"],
)
def test_decode_bytes_detects_encodings(codec):
    text = "第一章 总则\n为了规范公司的组织和行为，保护股东的合法权益，制定本章程。\nVersion 2.0\n"
    assert decode_bytes(text.encode(codec)) == text


def test_decode_bytes_short_gbk_is_not_mistaken_for_korean():
    assert decode_bytes("股东会会议通知".encode("gbk")) == "股东会会议通知"
    assert decode_bytes("中文测试".encode("gb2312")) == "中文测试"


def test_decode_bytes_cp1252_and_utf16_without_bom_ascii():
    latin = "El niño comió paella. Der Preis betrug 15,50 €. L'été était très chaud."
    assert decode_bytes(latin.encode("cp1252")) == latin
    assert decode_bytes("plain ascii in utf-16".encode("utf-16-le")) == "plain ascii in utf-16"


@pytest.mark.parametrize("codec", ["gbk", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_text_file_in_any_encoding(tmp_path, codec):
    text = f"{fx.ZH_PARA}\n\n{fx.EN_PARA}\n"
    path = tmp_path / "notes.txt"
    path.write_bytes(text.encode(codec))
    doc = load_file(path)
    assert [b.text for b in doc.blocks] == [fx.ZH_PARA, fx.EN_PARA]


# ------------------------------------------------------------------ text family


def test_markdown_sections_code_tables(tmp_path):
    md = """---
title: 用户手册
---
# 安装

先安装依赖。

```python
pip install zhiku
```

## 配置 Settings

| 名称 | 默认值 |
|---|---|
| port | 8000 |

# Usage

Run it.
"""
    path = tmp_path / "guide.md"
    path.write_text(md, encoding="utf-8")
    doc = load_file(path)
    assert doc.title == "用户手册"
    assert "title:" not in doc.text  # front matter is not content
    assert find(doc, "先安装依赖").section == ("安装",)
    code = blocks_of(doc, "code")[0]
    assert code.text == "pip install zhiku" and code.meta["lang"] == "python"
    table = blocks_of(doc, "table")[0]
    assert table.section == ("安装", "配置 Settings")
    assert table.text.splitlines()[0].startswith("| 名称")
    assert find(doc, "Run it").section == ("Usage",)
    assert [b.text for b in blocks_of(doc, "heading")] == ["安装", "配置 Settings", "Usage"]


def test_code_file_is_code(tmp_path):
    path = tmp_path / "app.py"
    path.write_text("import os\n\n\ndef main():\n    return 1\n\n\nclass A:\n    pass\n")
    doc = load_file(path)
    assert {b.kind for b in doc.blocks} == {"code"}
    assert doc.blocks[0].meta["lang"] == "python"
    assert "def main():\n    return 1" in doc.text


def test_rst_and_org_headings(tmp_path):
    rst = tmp_path / "a.rst"
    rst.write_text("Title\n=====\n\nIntro text.\n\nPart\n----\n\nPart text.\n")
    doc = load_file(rst)
    assert doc.title == "Title"
    assert find(doc, "Part text").section == ("Title", "Part")
    org = tmp_path / "b.org"
    org.write_text("#+TITLE: 笔记\n* 第一章\n正文。\n** 小节\n#+BEGIN_SRC sh\nls -l\n#+END_SRC\n")
    doc = load_file(org)
    assert doc.title == "笔记"
    assert find(doc, "正文").section == ("第一章",)
    code = blocks_of(doc, "code")[0]
    assert code.text == "ls -l" and code.section == ("第一章", "小节")


def test_long_paragraph_without_blank_lines_is_cut(tmp_path):
    path = tmp_path / "novel.txt"
    path.write_text("\n".join(fx.ZH_PARA * 3 for _ in range(200)), encoding="gbk")
    doc = load_file(path)
    assert len(doc.blocks) > 10
    assert all(len(b.text) <= 2100 for b in doc.blocks)


# ------------------------------------------------------------------ pdf


def test_pdf_pages_chinese_title_nfkc(tmp_path):
    doc = load_file(fx.make_pdf(tmp_path / "report.pdf"))
    assert doc.pages == 3
    assert [b.page for b in doc.blocks] == [1, 2]  # the blank page 3 is skipped
    assert doc.meta["pages_without_text"] == [3]
    assert doc.title == "测试文档 Test document"
    first = doc.blocks[0].text
    assert "第一章 总则：知识库问答系统，支持中文。" in first  # full-width punctuation kept
    assert "金山公司" in first and "file" in first  # Kangxi radicals and ligature normalised
    assert "Page two is in English." in doc.blocks[1].text


def test_normalize_pdf_text():
    assert normalize_pdf_text("⾦⼭，ﬁ（１２３）\x00") == "金山，fi（123）"


def test_pdf_with_owner_password_only_loads(tmp_path):
    doc = load_file(fx.make_pdf(tmp_path / "locked.pdf", encrypt=""))
    assert "知识库" in doc.text


def test_pdf_with_user_password_is_load_error(tmp_path):
    path = fx.make_pdf(tmp_path / "secret.pdf", encrypt="s3cret")
    with pytest.raises(LoadError, match="password-protected PDF") as err:
        load_file(path)
    assert str(err.value).startswith("secret.pdf:")


def test_scanned_pdf_without_text_is_load_error(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path))
    c.rect(100, 100, 200, 200, fill=1)
    c.showPage()
    c.save()
    with pytest.raises(LoadError, match="no text found"):
        load_file(path)


# ------------------------------------------------------------------ office


def test_docx_sections_tables_lists_pages(tmp_path):
    doc = load_file(fx.make_docx(tmp_path / "章程.docx"))
    assert doc.title == "公司章程"
    assert find(doc, fx.ZH_PARA).section == ("第一章 总则",)
    assert find(doc, fx.ZH_PARA2).section == ("第一章 总则", "第一节 目的")
    table = blocks_of(doc, "table")[0]
    assert table.text.splitlines()[:3] == [
        "| 姓名 | 部门 | 电话 |", "| --- | --- | --- |", "| 张三 | 财务部 | 010-1234 |"]
    assert table.section == ("第一章 总则", "第一节 目的")
    # document order: the table sits between the paragraphs around it
    texts = [b.text for b in doc.blocks]
    assert texts.index(fx.ZH_PARA2) < texts.index(table.text) < texts.index("表格之后的段落。")
    assert find(doc, fx.EN_PARA).section == ("Chapter 2 Scope",)
    assert find(doc, "first bullet").text == "- first bullet\n- second bullet"
    assert find(doc, "本节适用").section == ("Chapter 2 Scope", "第二节 范围")  # "标题 2" style
    assert find(doc, fx.ZH_PARA).page == 1 and find(doc, fx.EN_PARA).page == 2


def test_pptx_slides_titles_tables_groups_notes(tmp_path):
    doc = load_file(fx.make_pptx(tmp_path / "deck.pptx"))
    assert doc.pages == 4
    assert doc.title == "年度总结"
    assert find(doc, "Annual review").page == 1
    body = find(doc, "营收增长")
    assert body.page == 2 and body.section == ("Revenue",)
    assert "  Costs flat" in body.text  # bullet level kept as indentation
    notes = find(doc, "Speaker note")
    assert notes.meta["notes"] is True and notes.page == 2
    table = blocks_of(doc, "table")[0]
    assert table.page == 3 and table.section == ("区域数据",)
    assert table.text.splitlines()[0] == "| 区域 | 销售额 |" and "| 华东 | 1200 |" in table.text
    assert find(doc, "外层文本").page == 4 and find(doc, "Nested text").page == 4


def test_xlsx_sheets_row_ranges_and_repeated_header(tmp_path):
    doc = load_file(fx.make_xlsx(tmp_path / "sales.xlsx"))
    sales = [b for b in doc.blocks if b.meta.get("sheet") == "销售数据"]
    assert [b.meta["rows"] for b in sales] == ["2-51", "52-101", "102-121"]
    for b in sales:
        assert b.kind == "table" and b.section == ("销售数据",)
        assert b.text.splitlines()[0] == "| 日期 | 产品 | 数量 | 单价 |"
    assert "| 2024-01-01 | 产品1 | 1 | 9.5 |" in sales[0].text
    summary = [b for b in doc.blocks if b.meta.get("sheet") == "Summary"]
    assert summary[0].kind == "text" and summary[0].text == "Quarterly summary"
    assert summary[1].text.splitlines()[0] == "| Region | Revenue | Share |"
    assert "| South | 3600.5 | 0.75 |" in summary[1].text
    assert summary[1].meta["rows"] == "4-5"
    assert doc.meta["sheets"] == ["销售数据", "Summary", "Empty"]


def test_fake_encrypted_office_file_is_load_error(tmp_path):
    # an encrypted OOXML file is an OLE container holding an "EncryptedPackage" stream
    path = tmp_path / "locked.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500
                     + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 500)
    with pytest.raises(LoadError, match="password-protected Excel"):
        load_file(path)


# ------------------------------------------------------------------ csv


def test_csv_semicolon_gbk(tmp_path):
    rows = ["城市;人口;面积"] + [f"城市{i};{i * 100};{i}.5" for i in range(60)]
    path = tmp_path / "cities.csv"
    path.write_bytes("\r\n".join(rows).encode("gbk"))
    doc = load_file(path)
    assert doc.meta["delimiter"] == ";"
    assert [b.meta["rows"] for b in doc.blocks] == ["2-51", "52-61"]
    assert all(b.text.startswith("| 城市 | 人口 | 面积 |") for b in doc.blocks)


def test_tsv_utf16_with_title_row(tmp_path):
    path = tmp_path / "cups.tsv"
    path.write_text("Stanley Cups\t\t\nTeam\tLocation\tCups\nBlues\tSTL\t1\n", encoding="utf-16")
    doc = load_file(path)
    assert doc.blocks[0].text == "Stanley Cups"
    assert doc.blocks[1].text.splitlines()[0] == "| Team | Location | Cups |"


def test_tsv_lined_up_with_spaces_is_a_table(tmp_path):
    """bisheng/table_x1.tsv: a ".tsv" whose columns are lined up with spaces, not tabs."""
    path = tmp_path / "x1.tsv"
    path.write_text("a   b   c\n1   2   3\n", encoding="utf-8")
    doc = load_file(path)
    assert [b.kind for b in doc.blocks] == ["table"] and doc.meta["delimiter"] == "spaces"
    assert doc.blocks[0].text.splitlines() == ["| a | b | c |", "| --- | --- | --- |", "| 1 | 2 | 3 |"]
    # one column of text stays text
    (tmp_path / "notes.tsv").write_text("just a line\nanother line\n", encoding="utf-8")
    assert load_file(tmp_path / "notes.tsv").blocks[0].kind == "text"


def test_sniff_delimiter():
    assert sniff_delimiter("a,b;c\nd,e;f\n") in (",", ";")
    assert sniff_delimiter("Lorem, ipsum; dolor\nconsectetur; adipiscing; elit\nx; y; z\n") == ";"
    assert sniff_delimiter('a,"b,c",d\n1,2,3\n') == ","
    assert sniff_delimiter("a\tb\n1\t2\n") == "\t"


# ------------------------------------------------------------------ html, eml, epub, json


def test_html_gbk_sections_tables_furniture_dropped(tmp_path):
    doc = load_file(fx.make_html(tmp_path / "manual.html"))
    assert doc.title == "产品手册"
    text = doc.text
    for junk in ("不应出现的脚本", "导航栏", "菜单一", "侧边栏", "页脚", "color: red"):
        assert junk not in text
    assert find(doc, "请先下载安装包，然后双击运行").section == ("安装指南",)
    table = blocks_of(doc, "table")[0]
    assert table.section == ("安装指南", "系统要求")
    assert table.text.splitlines()[0] == "| 项目 | 最低配置 |" and "| 内存 | 8 GB |" in table.text
    assert find(doc, "Windows 10").text == "- Windows 10\n- Ubuntu 22.04\n  - x86_64"
    assert find(doc, "First line").text == "First line\nsecond line"
    assert find(doc, "First line").section == ("常见问题",)


@pytest.mark.parametrize("codec", ["cp1252", "utf-16"])
def test_html_without_declared_charset(tmp_path, codec):
    path = tmp_path / "page.htm"
    text = "Die schöne Frau zahlte 15,50 €."
    path.write_bytes(f"<html><body><p>{text}</p></body></html>".encode(codec))
    assert load_file(path).text == text


def test_eml_headers_body_and_attachments(tmp_path):
    doc = load_file(fx.make_eml(tmp_path / "mail.eml"))
    assert doc.title == "季度报告 Quarterly report"
    head = doc.blocks[0].text
    assert "From: 张三 <zhang@example.com>" in head and "To: team@example.com" in head
    assert "Date: Mon, 04 Mar 2024" in head
    assert "附件是第一季度的报告" in doc.text and "HTML version" not in doc.text  # plain wins
    assert find(doc, "Attachments:").text == "Attachments: notes.txt, data.csv, logo.png"
    note = find(doc, "销售额一千二百万")  # a GBK text attachment, decoded
    assert note.meta["attachment"] == "notes.txt"
    assert note.section == ("Attachment: notes.txt",)
    assert find(doc, "| East | 1200 |").kind == "table"


def test_eml_html_only_body(tmp_path):
    path = tmp_path / "html.eml"
    path.write_bytes(b"Subject: Hi\nContent-Type: text/html; charset=utf-8\n\n"
                     + "<p>只有<b>HTML</b>正文</p><script>x()</script>".encode())
    doc = load_file(path)
    assert doc.blocks[-1].text == "只有HTML正文"


def test_epub_spine_order_and_chapter_sections(tmp_path):
    doc = load_file(fx.make_epub(tmp_path / "book.epub"))
    assert doc.title == "静静的顿河"
    first, second = find(doc, "顿河静静地流淌"), find(doc, "The river flows")
    assert doc.blocks.index(first) < doc.blocks.index(second)  # spine order, not manifest
    assert first.section == ("第一卷 顿河",) and first.meta["chapter"] == 1
    assert find(doc, "哥萨克村庄").section == ("第一卷 顿河", "第一节")
    assert second.section == ("Chapter Two",)
    assert "margin" not in doc.text


def test_json_jsonl_ipynb(tmp_path):
    data = [{"问题": "如何安装？", "答案": {"步骤": ["下载", "运行"]}},
            {"问题": "Port?", "答案": 8000}]
    jpath = tmp_path / "faq.json"
    jpath.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    doc = load_file(jpath)
    assert [b.text for b in doc.blocks] == ["问题: 如何安装？\n答案.步骤: 下载, 运行",
                                            "问题: Port?\n答案: 8000"]
    lpath = tmp_path / "log.jsonl"
    lpath.write_text('{"msg": "启动"}\n\n{"msg": "ok", "code": 0}\nnot json\n', encoding="utf-8")
    doc = load_file(lpath)
    assert [b.meta["line"] for b in doc.blocks] == [1, 3, 4]
    assert doc.blocks[0].text == "msg: 启动" and doc.blocks[2].meta["invalid_json"] is True
    doc = load_file(fx.make_ipynb(tmp_path / "analysis.ipynb"))
    assert doc.title == "数据分析"
    code = blocks_of(doc, "code")[0]
    assert code.section == ("数据分析",) and code.meta["lang"] == "python"
    assert find(doc, "2.0").meta["output"] is True
    assert find(doc, "The mean is two").section == ("数据分析", "Results")


# ------------------------------------------------------------------ picking the loader


def test_supported_extensions():
    exts = supported_extensions()
    for ext in (".pdf", ".docx", ".pptx", ".xlsx", ".xls", ".csv", ".tsv", ".txt", ".md", ".html",
                ".json", ".jsonl", ".ipynb", ".eml", ".epub", ".py", ".go", ".yaml", ".sql"):
        assert ext in exts
    assert exts == sorted(exts)


def test_filename_gives_extension_when_stored_path_has_none(tmp_path):
    stored = tmp_path / "0f3a9c"
    stored.write_bytes(fx.make_docx(tmp_path / "x.docx").read_bytes())
    doc = load_file(stored, filename="uploads/章程.docx")
    assert doc.meta["format"] == "docx"
    md = tmp_path / "blob"
    md.write_text("# 标题\n\n正文")
    assert load_file(md, filename="README.md").blocks[1].section == ("标题",)


def test_no_extension_anywhere_goes_by_content(tmp_path):
    pdf = tmp_path / "scan0001"
    pdf.write_bytes(fx.make_pdf(tmp_path / "a.pdf").read_bytes())
    assert load_file(pdf).pages == 3
    readme = tmp_path / "README"
    readme.write_text("Plain readme text.")
    assert load_file(readme).text == "Plain readme text."


def test_pdf_named_txt_is_loaded_as_pdf(tmp_path):
    path = tmp_path / "report.txt"
    path.write_bytes(fx.make_pdf(tmp_path / "a.pdf").read_bytes())
    doc = load_file(path)
    assert doc.meta["format"] == "pdf" and doc.meta["detected_as"] == "pdf"
    assert doc.blocks[0].page == 1


def test_html_named_xls_is_loaded_as_html(tmp_path):
    path = tmp_path / "export.xls"
    path.write_text("<html><body><table><tr><th>名称</th><th>数量</th></tr>"
                    "<tr><td>苹果</td><td>3</td></tr></table></body></html>", encoding="utf-8")
    doc = load_file(path)
    assert doc.blocks[0].text.splitlines()[0] == "| 名称 | 数量 |"


@pytest.mark.parametrize(
    "name, content, says",
    [
        ("report.docx", "pdf", "PDF document; rename it to .pdf"),
        ("report.pdf", "zip", "zip archive"),
        ("report.pdf", "text", "the content is text"),
        ("slides.pptx", "docx", "Word document (.docx); rename it to .docx"),
        ("notes.txt", "junk", "binary data"),
        ("notes.md", "png", "PNG image"),
        ("data.csv", "zip", "zip archive"),
    ],
)
def test_mislabelled_files_are_unsupported(tmp_path, name, content, says):
    path = tmp_path / name
    if content == "pdf":
        path.write_bytes(fx.make_pdf(tmp_path / "a.pdf").read_bytes())
    elif content == "docx":
        path.write_bytes(fx.make_docx(tmp_path / "a.docx").read_bytes())
    elif content == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("a.txt", "hello")
    elif content == "text":
        path.write_text("just some text, not a PDF")
    elif content == "png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    else:
        path.write_bytes(bytes(range(256)) * 16)
    with pytest.raises(UnsupportedFormat) as err:
        load_file(path)
    assert str(err.value).startswith(f"{name}:")
    assert says in str(err.value)


def test_unknown_extension_lists_supported(tmp_path):
    path = tmp_path / "drawing.dwg"
    path.write_bytes(b"AC1032" + bytes(100))
    with pytest.raises(UnsupportedFormat) as err:
        load_file(path)
    msg = str(err.value)
    assert msg.startswith("drawing.dwg:") and "'.dwg'" in msg and ".pdf" in msg and ".docx" in msg
    assert ".pdf" in err.value.details["supported"]


@pytest.mark.parametrize(
    "name, data, says",
    [
        ("empty.pdf", b"", "empty"),
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"  \n\t\n ", "no text found"),
        ("broken.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 8, "PDF"),
        ("broken.docx", b"PK\x03\x04" + b"\x00" * 200, "damaged"),
        ("broken.xlsx", b"PK\x03\x04" + b"\x00" * 200, "damaged"),
        ("bad.json", b'{"a": 1,', "invalid JSON"),
        ("bad.ipynb", b'{"cells": 3}', "notebook"),
        ("bad.jsonl", b"nope\nnever\n", "not JSON Lines"),
    ],
)
def test_unreadable_files_are_load_errors(tmp_path, name, data, says):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoadError) as err:
        load_file(path)
    assert str(err.value).startswith(f"{name}:")
    assert says in str(err.value)


def test_docx_zip_without_word_part_is_unsupported_not_crash(tmp_path):
    path = tmp_path / "fake.docx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<not-really/>")
    with pytest.raises(LoadError, match="fake.docx: cannot read it as a Word document"):
        load_file(path)


@pytest.mark.parametrize(
    "builder, name",
    [(fx.make_docx, "a.docx"), (fx.make_pptx, "a.pptx"), (fx.make_xlsx, "a.xlsx"),
     (fx.make_pdf, "a.pdf"), (fx.make_epub, "a.epub"), (fx.make_eml, "a.eml")],
)
def test_truncated_files_fail_cleanly(tmp_path, builder, name):
    data = builder(tmp_path / name).read_bytes()
    target = tmp_path / f"cut-{name}"
    for cut in (len(data) // 3, len(data) // 2, len(data) - 10):
        target.write_bytes(data[:cut])
        try:
            doc = load_file(target)
        except (LoadError, UnsupportedFormat) as e:
            assert str(e).startswith(f"{target.name}: ")
        else:
            assert doc.text.strip()


def test_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        load_file(tmp_path / "nope.pdf")


# ------------------------------------------------------------------ ../shared/data/docs

SHARED_DOCS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "docs"
UNSUPPORTED = {".doc", ".ppt", ".msg", ".zip"}


def shared_docs() -> Path:
    if not SHARED_DOCS.is_dir():
        pytest.skip(f"shared documents not found at {SHARED_DOCS}")
    return SHARED_DOCS


@pytest.mark.shared
@pytest.mark.slow  # OCRs every picture and scanned page (about a minute)
def test_shared_every_file_loads_or_fails_cleanly():
    root = shared_docs()
    supported = set(supported_extensions())
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert files
    loaded = 0
    for path in files:
        ext = path.suffix.lower()
        try:
            doc = load_file(path)
        except ZhikuError as e:
            assert e.message.startswith(f"{path.name}:") and len(e.message) > len(path.name) + 5
            if ext in UNSUPPORTED:
                assert isinstance(e, UnsupportedFormat), e.message
            continue
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"{path.relative_to(root)} raised {type(e).__name__}: {e}")
        assert ext in supported, path
        assert doc.text.strip(), path
        assert all(b.text.strip() for b in doc.blocks), path
        loaded += 1
    assert loaded >= 50


def shared(rel: str) -> Path:
    return shared_docs() / rel


@pytest.mark.shared
def test_shared_encodings():
    doc = load_file(shared("unstructured/stanley-cups-utf-16.csv"))
    table = blocks_of(doc, "table")[0]
    assert table.text.splitlines()[0] == "| Team | Location | Stanley Cups |"
    assert "| Maple Leafs | TOR | 13 |" in table.text
    assert "This is a test document" in load_file(shared("unstructured/fake-text-utf-16.txt")).text
    assert "This is a test document" in load_file(shared("unstructured/fake-text-utf-32.txt")).text
    html = load_file(shared("unstructured/fake-html-cp1252.html")).text
    assert "Die schöne Frau" in html and "15,50 €" in html and "El niño" in html
    utf16 = load_file(shared("unstructured/example-steelJIS-datasheet-utf-16.html"))
    utf8 = load_file(shared("unstructured/example-steelJIS-datasheet.html"))
    assert utf16.text == utf8.text and "SNB22-3" in utf16.text
    assert "Test Email" in load_file(shared("unstructured/eml/fake-email-utf-16.eml")).title


@pytest.mark.shared
def test_shared_chinese_files():
    md = load_file(shared("bisheng/test.md"))
    assert find(md, "谁是我们的敌人").section == ("标题2",)
    xlsx = load_file(shared("bisheng/test.xlsx"))
    assert xlsx.meta["sheets"] == ["战争进度表1", "战争进度表2"]
    first = xlsx.blocks[0]
    assert first.meta["sheet"] == "战争进度表1" and first.section == ("战争进度表1",)
    assert first.text.splitlines()[0] == "| 战争阶段 | 阶段描述 | 时间 |"
    assert "| 战略防御 |" in first.text
    docx = load_file(shared("bisheng/1. 股东会-会议通知.docx"))
    assert "会议基本情况" in docx.text and "| 序号 | 议案内容 | 汇报人 |" in docx.text
    sample = load_file(shared("bisheng/maoxuan_sample.docx"))
    assert "减租和生产是保卫解放区的两件大事" in [b.text for b in blocks_of(sample, "heading")]
    wiki = load_file(shared("bisheng/maoxuan_wikipedia.html"))
    assert "毛泽东选集" in wiki.title and "[ 编辑 ]" not in wiki.text
    assert load_file(shared("bisheng/tests-example.xls")).meta["sheets"][0] == "Example Test"


@pytest.mark.shared
def test_shared_protected_files():
    with pytest.raises(LoadError, match="password-protected Excel"):
        load_file(shared("unstructured/password_protected.xlsx"))
    with pytest.raises(LoadError, match="password-protected PDF"):
        load_file(shared("unstructured/pdf/password.pdf"))
    assert load_file(shared("unstructured/pdf/copy-protected.pdf")).pages == 2


@pytest.mark.shared
def test_shared_formats_spot_checks():
    semi = load_file(shared("unstructured/semicolon-delimited.csv"))
    assert semi.meta["delimiter"] == ";"
    pptx = load_file(shared("unstructured/fake-power-point-table.pptx"))
    assert blocks_of(pptx, "table") and all(b.page == 1 for b in pptx.blocks)
    nested = load_file(shared("unstructured/group-shapes-nested.pptx")).text
    assert all(letter in nested for letter in "ABCDEFGHIJ")
    mail = load_file(shared("unstructured/eml/fake-email-attachment.eml"))
    assert find(mail, "fake attachment").meta["attachment"] == "fake-attachment.txt"
    epub = load_file(shared("unstructured/language-docs/eng_spa_mult.epub"))
    assert "Todos los seres humanos" in epub.text
    pdf = load_file(shared("unstructured/pdf/multi-column-2p.pdf"))
    assert {b.page for b in pdf.blocks} == {1, 2}
    text = pdf.text
    # column by column: the left column's end comes before the right column's start
    assert text.index("Open-domain question answering (QA)") < text.index("QA datasets, it also")
    assert "1 Introduction" in [b.text for b in blocks_of(pdf, "heading")]
    assert "improving the retrieval component" in text  # line-end hyphen joined
    assert "\n\narXiv:2004.04906v3 [cs.CL] 30 Sep 2020\n\n" in text  # rotated stamp: whole, apart, spaced
