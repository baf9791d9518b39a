"""Builders for real documents of every supported format, written into a test's tmp_path.

Each builder writes one file with the library a user's tool would have used
(python-docx, python-pptx, openpyxl, reportlab, the email package, zipfile) and
returns its path. Content is Chinese and English on purpose.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from email.message import EmailMessage
from pathlib import Path

ZH_PARA = "知识库问答系统把文档切成段落，再按问题检索最相关的内容。"
ZH_PARA2 = "股东会会议通知：会议时间为二〇二四年三月一日上午九点。"
EN_PARA = "The quarterly revenue grew by twelve percent compared with last year."


def make_docx(path: Path) -> Path:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    doc = docx.Document()
    doc.core_properties.title = "公司章程"
    doc.add_heading("第一章 总则", level=1)
    doc.add_paragraph(ZH_PARA)
    doc.add_heading("第一节 目的", level=2)
    doc.add_paragraph(ZH_PARA2)
    table = doc.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ("姓名", "部门", "电话"), strict=True):
        cell.text = text
    for row in (("张三", "财务部", "010-1234"), ("李四", "技术部", "010-5678")):
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
    doc.add_paragraph("表格之后的段落。")
    doc.add_page_break()
    doc.add_heading("Chapter 2 Scope", level=1)
    doc.add_paragraph(EN_PARA)
    doc.add_paragraph("first bullet", style="List Bullet")
    doc.add_paragraph("second bullet", style="List Bullet")
    # a heading style named the way Chinese Word templates name it
    zh_style = doc.styles.add_style("标题 2", WD_STYLE_TYPE.PARAGRAPH)
    doc.add_paragraph("第二节 范围", style=zh_style)
    doc.add_paragraph("本节适用于全体员工。")
    doc.save(str(path))
    return path


def make_pptx(path: Path) -> Path:
    from pptx import Presentation
    from pptx.util import Inches

    prs = Presentation()
    s1 = prs.slides.add_slide(prs.slide_layouts[0])
    s1.shapes.title.text = "年度总结"
    s1.placeholders[1].text = "二〇二四年 Annual review"
    s2 = prs.slides.add_slide(prs.slide_layouts[1])
    s2.shapes.title.text = "Revenue"
    body = s2.placeholders[1].text_frame
    body.text = "营收增长百分之十二"
    p = body.add_paragraph()
    p.text = "Costs flat"
    p.level = 1
    s2.notes_slide.notes_text_frame.text = "Speaker note: mention the new office."
    s3 = prs.slides.add_slide(prs.slide_layouts[5])
    s3.shapes.title.text = "区域数据"
    shape = s3.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2))
    for r, row in enumerate((("区域", "销售额"), ("华东", "1200"), ("华南", "800"))):
        for c, text in enumerate(row):
            shape.table.cell(r, c).text = text
    s4 = prs.slides.add_slide(prs.slide_layouts[6])
    outer = s4.shapes.add_group_shape()
    box = outer.shapes.add_textbox(Inches(1), Inches(1), Inches(2), Inches(1))
    box.text_frame.text = "外层文本"
    inner = outer.shapes.add_group_shape()
    box = inner.shapes.add_textbox(Inches(3), Inches(3), Inches(2), Inches(1))
    box.text_frame.text = "Nested text"
    prs.save(str(path))
    return path


def make_xlsx(path: Path, rows: int = 120) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "销售数据"
    ws.append(["日期", "产品", "数量", "单价"])
    start = dt.date(2024, 1, 1)
    for i in range(rows):
        ws.append([start + dt.timedelta(days=i), f"产品{i + 1}", i + 1, 9.5])
    summary = wb.create_sheet("Summary")
    summary.append(["Quarterly summary"])
    summary.append([])
    summary.append(["Region", "Revenue", "Share"])
    summary.append(["North", 1200, 0.25])
    summary.append(["South", 3600.5, 0.75])
    wb.create_sheet("Empty")
    wb.save(str(path))
    return path


def make_pdf(path: Path, *, encrypt: str | None = None) -> Path:
    """Three pages: Chinese (with Kangxi radicals and a ligature), English, blank."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    c.setTitle("测试文档 Test document")
    c.setFont("STSong-Light", 14)
    c.drawString(72, 750, "第一章 总则：知识库问答系统，支持中文。")
    c.drawString(72, 720, "⾦⼭公司 ﬁle")  # Kangxi radicals for 金山, and the "fi" ligature
    c.showPage()
    c.setFont("Helvetica", 12)
    c.drawString(72, 750, "Page two is in English.")
    c.showPage()
    c.showPage()
    c.save()
    if encrypt is not None:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.encrypt(user_password=encrypt, owner_password="owner-secret", algorithm="AES-128")
        with path.open("wb") as fh:
            writer.write(fh)
    return path


def make_html(path: Path) -> Path:
    html = """<!DOCTYPE html>
<html><head><meta charset="gbk"><title>产品手册</title>
<script>var x = "不应出现的脚本";</script><style>p { color: red }</style></head>
<body>
<header><a href="/">首页</a> 导航栏文字</header>
<nav><ul><li>菜单一</li><li>菜单二</li></ul></nav>
<h1>安装指南</h1>
<p>请先下载安装包，<b>然后</b>双击运行。</p>
<h2>系统要求</h2>
<table><tr><th>项目</th><th>最低配置</th></tr>
<tr><td>内存</td><td>8 GB</td></tr><tr><td>磁盘</td><td>20 GB</td></tr></table>
<ul><li>Windows 10</li><li>Ubuntu 22.04<ul><li>x86_64</li></ul></li></ul>
<h1>常见问题</h1>
<p>First line<br>second line</p>
<aside>侧边栏广告</aside>
<footer>版权所有 页脚</footer>
</body></html>"""
    path.write_bytes(html.encode("gbk"))
    return path


def make_eml(path: Path) -> Path:
    msg = EmailMessage()
    msg["Subject"] = "季度报告 Quarterly report"
    msg["From"] = "张三 <zhang@example.com>"
    msg["To"] = "team@example.com"
    msg["Date"] = "Mon, 04 Mar 2024 10:00:00 +0800"
    msg.set_content("各位好：\n\n附件是第一季度的报告。\n\nBest regards")
    msg.add_alternative("<p>各位好：</p><p>HTML version</p>", subtype="html")
    msg.add_attachment("附件正文：销售额一千二百万。".encode("gbk"), maintype="text",
                       subtype="plain", filename="notes.txt")
    msg.add_attachment(b"region,sales\nEast,1200\n", maintype="text", subtype="csv",
                       filename="data.csv")
    msg.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, maintype="image", subtype="png",
                       filename="logo.png")
    path.write_bytes(bytes(msg))
    return path


_CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf"
   media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

_OPF = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:1</dc:identifier><dc:title>静静的顿河</dc:title>
    <dc:language>zh</dc:language>
  </metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
    <item id="c2" href="text/ch2.xhtml" media-type="application/xhtml+xml"/>
    <item id="css" href="style.css" media-type="text/css"/>
  </manifest>
  <spine><itemref idref="c2"/><itemref idref="c1"/></spine>
</package>"""

_NAV = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><body>
<nav epub:type="toc"><ol>
<li><a href="text/ch2.xhtml">第一卷 顿河</a></li>
<li><a href="text/ch1.xhtml#start">Chapter Two</a></li>
</ol></nav></body></html>"""

_CHAPTER = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head>
<body><h1>{title}</h1><p>{body}</p><h2>{sub}</h2><p>{body2}</p></body></html>"""


def make_epub(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        zf.writestr("META-INF/container.xml", _CONTAINER)
        zf.writestr("OEBPS/content.opf", _OPF)
        zf.writestr("OEBPS/nav.xhtml", _NAV)
        zf.writestr("OEBPS/style.css", "p { margin: 0 }")
        zf.writestr("OEBPS/text/ch2.xhtml", _CHAPTER.format(
            title="第一卷 顿河", body="顿河静静地流淌。", sub="第一节", body2="哥萨克村庄。"))
        zf.writestr("OEBPS/text/ch1.xhtml", _CHAPTER.format(
            title="Chapter Two", body="The river flows.", sub="Part A", body2="A village."))
    return path


def make_ipynb(path: Path) -> Path:
    nb = {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "cells": [
            {"cell_type": "markdown", "metadata": {},
             "source": ["# 数据分析\n", "\n", "本笔记本计算平均值。"]},
            {"cell_type": "code", "metadata": {}, "execution_count": 1,
             "source": ["values = [1, 2, 3]\n", "print(sum(values) / len(values))"],
             "outputs": [{"output_type": "stream", "name": "stdout", "text": ["2.0\n"]}]},
            {"cell_type": "markdown", "metadata": {}, "source": "## Results\n\nThe mean is two."},
        ],
    }
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    return path
