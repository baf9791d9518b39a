"""Every command of the CLI, as a user types it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ZH = "# 报销制度\n\n差旅费用须在出差结束后三十日内提交报销申请，并附上发票原件。单笔超过五千元的报销需要部门总监审批。\n"
EN = "# Shipping\n\nOrders ship within two business days. International delivery takes 7 to 14 days.\n"


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "报销.md").write_text(ZH, encoding="utf-8")
    (d / "shipping.md").write_text(EN, encoding="utf-8")
    return d


def test_kb_lifecycle(cli, docs: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("kb", "create", "制度", "--description", "公司制度")
    assert r.code == 0 and "制度" in r.out
    assert cli("kb", "create", "制度").code == 1
    r = cli("kb", "list", "--json")
    kbs = json.loads(r.out)
    assert [k["name"] for k in kbs] == ["制度"] and kbs[0]["description"] == "公司制度"
    r = cli("kb", "add", "制度", str(docs))
    assert r.code == 0, r.err
    assert "2 added" in r.out and "0 failed" in r.out
    assert "docs/shipping.md" in r.err  # per-file progress lines
    r = cli("kb", "files", "制度", "--json")
    files = json.loads(r.out)
    assert sorted(f["name"] for f in files) == ["docs/shipping.md", "docs/报销.md"]
    assert all(f["status"] == "indexed" for f in files)
    r = cli("kb", "info", "制度", "--json")
    info = json.loads(r.out)
    assert info["files"] == 2 and info["embedder"] == "static"
    r = cli("kb", "chunks", "制度", "docs/报销.md", "--json")
    chunks = json.loads(r.out)
    assert chunks and "三十日内" in chunks[0]["text"] and chunks[0]["section"] == ["报销制度"]
    assert cli("kb", "check", "制度").code == 0
    r = cli("kb", "rebuild", "制度")
    assert r.code == 0 and "chunks" in r.out
    r = cli("kb", "remove", "制度", "docs/shipping.md")
    assert r.code == 0
    assert [f["name"] for f in json.loads(cli("kb", "files", "制度", "--json").out)] == ["docs/报销.md"]
    assert cli("kb", "delete", "制度", "--yes").code == 0
    assert json.loads(cli("kb", "list", "--json").out) == []


def test_delete_asks_for_confirmation(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import io

    cli("kb", "create", "keep")
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    r = cli("kb", "delete", "keep")
    assert r.code == 1
    assert [k["name"] for k in json.loads(cli("kb", "list", "--json").out)] == ["keep"]


def test_search_and_ask_json(cli, docs: Path) -> None:  # type: ignore[no-untyped-def]
    cli("kb", "create", "制度")
    cli("kb", "add", "制度", str(docs))
    r = cli("search", "制度", "报销申请要在多少天内提交", "--json", "--top-k", "2")
    assert r.code == 0, r.err
    hits = json.loads(r.out)
    assert len(hits) == 2
    for key in ("kb", "file", "page", "section", "chunk_id", "score", "text"):
        assert key in hits[0]
    assert hits[0]["file"] == "docs/报销.md" and 0 <= hits[-1]["score"] <= hits[0]["score"] <= 1
    r = cli("ask", "制度", "报销申请要在多少天内提交？", "--json")
    ans = json.loads(r.out)
    assert ans["found"] is True and "三十日" in ans["answer"] and "[1]" in ans["answer"]
    assert ans["citations"][0]["file"] == "docs/报销.md"
    for key in ("kb", "file", "page", "section", "chunk_id", "score", "text"):
        assert key in ans["citations"][0]
    r = cli("ask", "制度", "报销申请要在多少天内提交？")
    assert r.code == 0 and "[1]" in r.out and "docs/报销.md" in r.out


def test_errors_are_one_line(cli, docs: Path) -> None:  # type: ignore[no-untyped-def]
    for args in [("search", "nokb", "x"), ("kb", "info", "nokb"), ("kb", "add", "nokb", str(docs)),
                 ("search", "nokb", "x", "--mode", "fuzzy")]:
        r = cli(*args)
        assert r.code != 0
        assert r.err.startswith("error: ") and r.err.count("\n") == 1, r.err
        assert "Traceback" not in r.err
    cli("kb", "create", "kb")
    r = cli("search", "kb", "x", "--mode", "fuzzy")
    assert r.code == 1 and "unknown search mode 'fuzzy'" in r.err
    r = cli("kb", "create", "a/b")
    assert r.code == 1 and "invalid knowledge base name" in r.err


def test_add_reports_failures_with_nonzero_exit(cli, docs: Path) -> None:  # type: ignore[no-untyped-def]
    (docs / "bad.docx").write_bytes(b"not a zip at all")
    cli("kb", "create", "kb")
    r = cli("kb", "add", "kb", str(docs))
    assert r.code == 1
    assert "2 added" in r.out and "1 failed" in r.out
    assert "bad.docx" in r.err
    files = {f["name"]: f for f in json.loads(cli("kb", "files", "kb", "--json").out)}
    assert files["docs/bad.docx"]["status"] == "failed" and files["docs/bad.docx"]["error"]
    # kb info counts the files `kb files` lists, the failed one named (it left failed files out)
    assert "3 files (1 failed)" in cli("kb", "info", "kb").out
    info = json.loads(cli("kb", "info", "kb", "--json").out)
    assert (info["all_files"], info["files"], info["failed_files"]) == (3, 2, 1)


def test_kb_list_counts_files_as_kb_info_does(cli, docs: Path) -> None:  # type: ignore[no-untyped-def]
    """`kb list` counted only the indexed files while `kb info` and the UI count all with "(N failed)"."""
    (docs / "bad.docx").write_bytes(b"not a zip at all")
    cli("kb", "create", "kb")
    cli("kb", "create", "empty")
    assert cli("kb", "add", "kb", str(docs)).code == 1
    table = cli("kb", "list")
    row = next(line for line in table.out.splitlines() if " kb " in line)
    assert "3 files (1 failed)" in row, table.out
    assert "0 files" in next(line for line in table.out.splitlines() if " empty " in line)
    kbs = {k["name"]: k for k in json.loads(cli("kb", "list", "--json").out)}
    info = json.loads(cli("kb", "info", "kb", "--json").out)
    for key in ("files", "all_files", "failed_files", "pending_files"):
        assert kbs["kb"][key] == info[key], key
    assert (kbs["kb"]["all_files"], kbs["kb"]["files"], kbs["empty"]["all_files"]) == (3, 2, 0)


def test_init_and_config_show(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    r = cli("init")
    assert r.code == 0 and (home / "config.yaml").is_file()
    assert cli("init").code == 1  # never overwrites silently
    (home / "config.yaml").write_text("retrieval:\n  top_k: 8\n")
    r = cli("config", "show")
    assert "top_k: 8" in r.out
    (home / "config.yaml").write_text("retrieval:\n  top_k: -3\n")
    r = cli("config", "show")
    assert r.code == 1 and "retrieval.top_k" in r.err
    r = cli("config", "reference")
    assert "ZHIKU_RETRIEVAL__TOP_K" in r.out


def test_add_with_glob_and_force(cli, docs: Path) -> None:  # type: ignore[no-untyped-def]
    (docs / "notes.txt").write_text("plain notes about nothing in particular", encoding="utf-8")
    cli("kb", "create", "kb")
    r = cli("kb", "add", "kb", str(docs / "*.md"))
    assert r.code == 0 and "2 added" in r.out
    names = sorted(f["name"] for f in json.loads(cli("kb", "files", "kb", "--json").out))
    assert names == ["shipping.md", "报销.md"]
    r = cli("kb", "add", "kb", str(docs / "*.md"))
    assert "2 skipped" in r.out
    r = cli("kb", "add", "kb", str(docs / "*.md"), "--force")
    assert "2 replaced" in r.out and "(0 newly embedded)" in r.out
    r = cli("kb", "add", "kb", str(docs / "*.pdf"))
    assert r.code == 1 and "no files match" in r.err


def test_a_passage_running_onto_the_next_page_names_both(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("reportlab")
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "stock.pdf"
    c = canvas.Canvas(str(pdf), pagesize=A4)
    for text in ("Green tea pallets are stored in aisle seven.", "They are counted every Monday morning."):
        c.setFont("Helvetica", 12)
        c.drawString(72, 760, text)
        c.showPage()
    c.save()
    cli("kb", "create", "stock")
    assert cli("kb", "add", "stock", str(pdf)).code == 0
    r = cli("search", "stock", "where are the green tea pallets")
    assert r.code == 0, r.err
    assert "stock.pdf · pp.1-2" in r.out  # one short passage over two pages: both are named
