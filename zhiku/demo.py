"""The demo knowledge base of `make run`: documents zhiku writes itself."""

from __future__ import annotations

from pathlib import Path

DEMO_KB = "demo"

HANDBOOK_ZH = """# 星河科技员工手册

## 第一章 工作时间

公司实行弹性工作制。核心工作时间为每个工作日上午十点至下午四点，员工每天应工作满八小时。
远程办公需提前一天在系统中申请，并经直属主管批准。每周远程办公不超过两天。

## 第二章 假期

### 年假

入职满一年的员工每年享有十五天带薪年假，入职不满一年的按在职月份折算。
年假可以分次休，但每次不少于半天。当年未休完的年假可以顺延至次年三月三十一日，逾期作废。

### 病假

员工因病请假，三天以内凭医院证明即可，超过三天需提交诊断书。病假期间工资按基本工资的百分之八十发放。

## 第三章 报销

差旅费用须在出差结束后三十日内提交报销申请，并附上发票原件。
单笔超过五千元的报销需要部门总监审批。市内交通费每月上限为八百元。
"""

SOLAR_EN = """# A short guide to the Solar System

## The Sun

The Sun is a G-type main-sequence star that contains about 99.86% of the mass of the Solar System.
Light from the Sun takes about 8 minutes and 20 seconds to reach Earth.
Its core temperature is roughly 15 million degrees Celsius.

## The planets

Mercury is the smallest planet and the closest to the Sun; a year there lasts 88 Earth days.
Jupiter is the largest planet. It has a Great Red Spot, a storm larger than Earth that has raged for centuries.
Saturn is famous for its rings, which are made mostly of ice particles with some rock and dust.

## Exploration

Voyager 1, launched in 1977, became the first spacecraft to enter interstellar space in August 2012.
"""

FAQ_ZH_CSV = """问题,回答
如何重置密码？,在登录页点击“忘记密码”，按邮件中的链接设置新密码。
客服电话是多少？,客服热线为 400-800-1234，工作日 9:00-18:00 接听。
发票多久开具？,订单完成后七个工作日内开具电子发票。
"""

QUESTIONS = ("入职满一年的员工有多少天年假？", "How long does sunlight take to reach Earth?")


def write_demo_documents(folder: Path) -> list[Path]:
    """Write the demo documents (Markdown, a Word file, a CSV) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (("员工手册.md", HANDBOOK_ZH), ("solar-system.md", SOLAR_EN), ("常见问题.csv", FAQ_ZH_CSV)):
        p = folder / name
        p.write_text(text, encoding="utf-8")
        paths.append(p)
    from docx import Document

    doc = Document()
    doc.add_heading("Release notes 2.0", level=1)
    doc.add_paragraph("Version 2.0 adds offline search over Chinese and English documents.")
    doc.add_heading("Known limits", level=2)
    doc.add_paragraph("Scanned PDFs need the OCR extra. Files larger than 200 MB are refused.")
    table = doc.add_table(rows=3, cols=2)
    for r, (a, b) in enumerate([("Feature", "Status"), ("Hybrid search", "done"), ("Web UI", "planned")]):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    p = folder / "release-notes.docx"
    doc.save(str(p))
    paths.append(p)
    return paths
