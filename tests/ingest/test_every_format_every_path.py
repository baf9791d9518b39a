"""Every supported format through every way a file gets ingested: the CLI's ``kb add``, the REST
upload and re-ingest, Chatchat's ``upload_docs``, ``update_docs`` and ``recreate_vector_store``,
and file chat (Chatchat's ``upload_temp_docs`` and zhiku's ``/api/chat/files``).

Each file carries one made-up word (its marker); it must end indexed, and a search for the marker
must find that file first. Uploaded files are staged and stored under generated names without a
suffix: a loader that trusted the path's suffix (openpyxl does) failed every .xlsx/.xlsm upload.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.api.conftest import OVERRIDES, SyncASGITransport
from tests.ingest import fixtures_docs
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.client import ZhikuClient


def _xlsx(path: Path, marker: str) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "销售数据"
    ws.append(["日期", "产品", "备注"])
    ws.append([dt.date(2024, 1, 1), "产品一", f"{marker} 表格里的备注"])
    wb.save(str(path))


def _docx(path: Path, marker: str) -> None:
    import docx

    doc = docx.Document()
    doc.add_heading("第一章 总则", level=1)
    doc.add_paragraph(f"{fixtures_docs.ZH_PARA} {marker}")
    doc.save(str(path))


def _pptx(path: Path, marker: str) -> None:
    from pptx import Presentation

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = "年度总结"
    slide.placeholders[1].text = f"二〇二四年 {marker}"
    prs.save(str(path))


def _pdf(path: Path, marker: str) -> None:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    c.setFont("Helvetica", 12)
    c.drawString(72, 750, f"The quarterly report mentions {marker} once.")
    c.showPage()
    c.save()


def _epub(path: Path, marker: str) -> None:
    fixtures_docs.make_epub(path)  # and one more chapter, in the spine, with the marker
    with zipfile.ZipFile(path) as src:
        entries = [(i, src.read(i.filename)) for i in src.infolist()]
    opf = dict((i.filename, data) for i, data in entries)["OEBPS/content.opf"].decode()
    chapter = fixtures_docs._CHAPTER.format(title="Epilogue", body=f"{marker} ends it.", sub="End", body2="Done.")
    opf = opf.replace('<item id="css"', '<item id="c3" href="text/ch3.xhtml" media-type="application/xhtml+xml"/>'
                      '<item id="css"').replace("</spine>", '<itemref idref="c3"/></spine>')
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in entries:
            zf.writestr(info, opf if info.filename == "OEBPS/content.opf" else data)
        zf.writestr("OEBPS/text/ch3.xhtml", chapter)


def _eml(path: Path, marker: str) -> None:
    msg = EmailMessage()
    msg["Subject"] = "季度报告"
    msg["From"] = "张三 <zhang@example.com>"
    msg["To"] = "team@example.com"
    msg.set_content(f"各位好：\n\n附件是第一季度的报告 {marker}。\n")
    path.write_bytes(bytes(msg))


def _text(template: str) -> Callable[[Path, str], None]:
    return lambda path, marker: path.write_text(template.format(m=marker), encoding="utf-8")


def _ipynb(path: Path, marker: str) -> None:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "markdown", "metadata": {}, "source": [f"# 数据分析\n\n{marker} 笔记"]}]}
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")


def _rtf(path: Path, marker: str) -> None:
    # 年假制度 as code page 936 bytes, as WordPad writes Chinese
    path.write_bytes(rb"{\rtf1\ansi\ansicpg936{\fonttbl{\f0 SimSun;}}\f0\'c4\'ea\'bc\'d9\'d6\'c6\'b6\'c8\par "
                     + marker.encode() + rb"\par}")


def _odf(kind: str) -> Callable[[Path, str], None]:
    def write(path: Path, marker: str) -> None:
        from odf import opendocument
        from odf.draw import Frame, Page, TextBox
        from odf.style import MasterPage, PageLayout
        from odf.table import Table, TableCell, TableRow
        from odf.text import P

        if kind == "odt":
            doc = opendocument.OpenDocumentText()
            doc.text.addElement(P(text=f"第一章 总则 {marker}"))
        elif kind == "ods":
            doc = opendocument.OpenDocumentSpreadsheet()
            sheet, row, cell = Table(name="销售数据"), TableRow(), TableCell(valuetype="string")
            cell.addElement(P(text=marker))
            row.addElement(cell)
            sheet.addElement(row)
            doc.spreadsheet.addElement(sheet)
        else:
            doc = opendocument.OpenDocumentPresentation()
            layout = PageLayout(name="layout")
            doc.automaticstyles.addElement(layout)
            master = MasterPage(name="master", pagelayoutname=layout)
            doc.masterstyles.addElement(master)
            page, frame, box = Page(masterpagename=master), Frame(width="20cm", height="3cm"), TextBox()
            box.addElement(P(text=f"年度总结 {marker}"))
            frame.addElement(box)
            page.addElement(frame)
            doc.presentation.addElement(page)
        doc.save(str(path))

    return write


# extension -> writer(path, marker); every family of loader zhiku ships (pictures need OCR: tests/ingest/test_ocr.py)
FORMATS: dict[str, Callable[[Path, str], None]] = {
    ".xlsx": _xlsx,
    ".xlsm": _xlsx,
    ".docx": _docx,
    ".pptx": _pptx,
    ".pdf": _pdf,
    ".epub": _epub,
    ".eml": _eml,
    ".md": _text("# 年假制度\n\n入职满一年的员工享有年假。{m}\n"),
    ".txt": _text("普通文本文件。{m}\n"),
    ".html": _text("<html><head><title>手册</title></head><body><h1>安装</h1><p>{m} 段落</p></body></html>"),
    ".csv": _text("名称,备注\n产品一,{m}\n"),
    ".tsv": _text("名称\t备注\n产品一\t{m}\n"),
    ".json": _text('{{"标题": "配置", "说明": "{m}"}}'),
    ".jsonl": _text('{{"问题": "年假", "答案": "{m}"}}\n'),
    ".ipynb": _ipynb,
    ".rtf": _rtf,
    ".odt": _odf("odt"),
    ".ods": _odf("ods"),
    ".odp": _odf("odp"),
}


def marker(ext: str) -> str:
    return "zkmark" + ext.strip(".") + "qv"


@pytest.fixture
def docs(tmp_path: Path) -> dict[str, Path]:
    """One file of every format, named ``样本<ext>``, each with its marker word."""
    folder = tmp_path / "docs"
    folder.mkdir()
    out = {}
    for ext, write in FORMATS.items():
        path = folder / f"样本{ext}"
        write(path, marker(ext))
        out[ext] = path
    return out


def assert_all_searchable(zk: Zhiku, kb: str, docs: dict[str, Path]) -> None:
    """Every file indexed, and the first hit for its marker is that file."""
    files = {f.name: f for f in zk.list_files(kb)}
    failed = {n: f.error for n, f in files.items() if f.status != "indexed"}
    assert not failed, failed
    assert set(files) == {p.name for p in docs.values()}
    for ext, path in docs.items():
        hits = zk.search([kb], marker(ext), mode="lexical")
        assert hits and hits[0].file == path.name, (ext, hits[:2])


@pytest.fixture
def zk(home: Path) -> Iterator[Zhiku]:
    a = Zhiku(load_settings(home=home, overrides={**OVERRIDES, "ingest": {"max_file_mb": 4}}, environ={}))
    yield a
    a.close()


@pytest.fixture
def raw(zk: Zhiku) -> Iterator[httpx.Client]:
    transport = SyncASGITransport(create_app(zk))
    with httpx.Client(base_url="http://zhiku.test", transport=transport, timeout=120) as c:
        yield c
    transport.close()


@pytest.fixture
def client(zk: Zhiku) -> Iterator[ZhikuClient]:
    transport = SyncASGITransport(create_app(zk))
    with ZhikuClient("http://zhiku.test", transport=transport, timeout=120) as c:
        yield c
    transport.close()


def parts(docs: dict[str, Path]) -> list[tuple[str, tuple[str, BytesIO]]]:
    return [("files", (p.name, BytesIO(p.read_bytes()))) for p in docs.values()]


def test_cli_kb_add(home: Path, cli, docs: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    assert cli("kb", "create", "样本库").code == 0
    result = cli("kb", "add", "样本库", *(str(p) for p in docs.values()))
    assert result.code == 0, result.out + result.err
    zk = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}}, environ={}))
    try:
        assert_all_searchable(zk, "样本库", docs)
    finally:
        zk.close()


def test_rest_upload_and_reingest(client: ZhikuClient, zk: Zhiku, docs: dict[str, Path]) -> None:
    client.create_kb("样本库")
    job = client.wait_for_job(client.upload("样本库", list(docs.values())).id, timeout=120)
    bad = [(f.name, f.outcome, f.detail) for f in job.files if f.outcome not in ("added", "replaced")]
    assert job.status == "done" and not bad, bad
    assert_all_searchable(zk, "样本库", docs)
    for f in client.list_files("样本库"):
        job = client.wait_for_job(client.reingest("样本库", f.id).id, timeout=120)
        outcomes = [(x.outcome, x.detail) for x in job.files]
        assert job.status == "done" and outcomes[0][0] in ("added", "replaced"), (f.name, outcomes)
    assert_all_searchable(zk, "样本库", docs)


def _chatchat_ok(r: httpx.Response) -> dict:  # type: ignore[type-arg]
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == 200, body
    return body


def test_chatchat_upload_update_and_recreate(raw: httpx.Client, zk: Zhiku, docs: dict[str, Path]) -> None:
    _chatchat_ok(raw.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "样本库"}))
    body = _chatchat_ok(raw.post("/knowledge_base/upload_docs", data={"knowledge_base_name": "样本库"},
                                 files=parts(docs)))
    assert body["data"]["failed_files"] == {}, body
    assert_all_searchable(zk, "样本库", docs)

    body = _chatchat_ok(raw.post("/knowledge_base/update_docs", json={
        "knowledge_base_name": "样本库", "file_names": [p.name for p in docs.values()]}))
    assert body["data"]["failed_files"] == {}, body
    assert_all_searchable(zk, "样本库", docs)

    r = raw.post("/knowledge_base/recreate_vector_store", json={"knowledge_base_name": "样本库"})
    assert r.status_code == 200
    events = [json.loads(e[6:]) for e in r.text.split("\n\n") if e.startswith("data: ")]
    assert {e["code"] for e in events} == {200}, [e for e in events if e["code"] != 200]
    assert len(events) == len(docs)
    assert_all_searchable(zk, "样本库", docs)


def test_file_chat_uploads(raw: httpx.Client, client: ZhikuClient, docs: dict[str, Path]) -> None:
    body = _chatchat_ok(raw.post("/knowledge_base/upload_temp_docs", files=parts(docs)))
    assert body["data"]["failed_files"] == [], body
    tid = body["data"]["id"]
    for ext, path in docs.items():
        found = raw.post("/knowledge_base/search_temp_docs",
                         json={"knowledge_id": tid, "query": marker(ext), "top_k": 3, "score_threshold": 2.0}).json()
        assert found and found[0]["metadata"]["source"] == path.name, (ext, found[:1])

    temp = client.wait_for_chat_files(client.upload_chat_files(list(docs.values())).id, timeout=120)
    assert temp.status == "ready", temp
    bad = [(f.name, f.outcome, f.detail) for f in temp.files if f.outcome != "added"]
    assert not bad and len(temp.files) == len(docs), bad
