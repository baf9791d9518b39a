"""`zhiku --server URL ...`: the knowledge-base commands run on a real server through zhiku.client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.conftest import LiveServer
from zhiku import Zhiku

ZH = "# 报销制度\n\n差旅费用须在出差结束后三十日内提交报销申请，并附上发票原件。\n"
EN = "# Shipping\n\nOrders ship within two business days. International delivery takes 7 to 14 days.\n"


@pytest.fixture
def remote(live: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the CLI with --server against the live server, from a home of its own that stays empty."""
    from zhiku.cli import main

    cli_home = tmp_path / "cli-home"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--home", str(cli_home), "--server", live.url, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run
    assert not cli_home.exists(), "--server must not touch the local home"


def test_kb_commands_run_on_the_server(remote, zk: Zhiku, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "报销.md").write_text(ZH, encoding="utf-8")
    (docs / "shipping.md").write_text(EN, encoding="utf-8")

    code, out, err = remote("kb", "create", "制度", "-d", "公司制度")
    assert code == 0, err
    assert [k.name for k in zk.list_kbs()] == ["制度"]  # it exists on the server

    code, out, err = remote("kb", "add", "制度", str(docs))
    assert code == 0, err
    assert "2 added" in out and "0 failed" in out
    assert "shipping.md" in err  # per-file progress lines
    # named as `zhiku kb add` names a folder's files locally: under the folder's name
    assert sorted(f.name for f in zk.list_files("制度")) == ["docs/shipping.md", "docs/报销.md"]

    code, out, _ = remote("kb", "files", "制度", "--json")
    assert {f["name"]: f["status"] for f in json.loads(out)} == {"docs/shipping.md": "indexed", "docs/报销.md": "indexed"}
    code, out, _ = remote("kb", "chunks", "制度", "docs/报销.md", "--json")
    assert "三十日内" in json.loads(out)[0]["text"]

    code, out, _ = remote("search", "制度", "报销申请的期限", "--json")
    assert code == 0 and json.loads(out)[0]["file"] == "docs/报销.md"
    code, out, _ = remote("ask", "制度", "How many days does international delivery take?", "--json")
    answer = json.loads(out)
    assert code == 0 and "7 to 14 days" in answer["answer"] and answer["citations"][0]["file"] == "docs/shipping.md"

    code, out, _ = remote("kb", "check", "制度")
    assert code == 0 and "consistent" in out
    code, out, _ = remote("kb", "rebuild", "制度")
    assert code == 0 and "2 chunks" in out

    code, out, _ = remote("kb", "remove", "制度", "docs/shipping.md")
    assert code == 0 and [f.name for f in zk.list_files("制度")] == ["docs/报销.md"]
    code, out, _ = remote("kb", "delete", "制度", "--yes")
    assert code == 0 and zk.list_kbs() == []


def test_server_errors_are_one_line(remote, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = remote("kb", "info", "没有")
    assert code == 1 and err == "error: knowledge base '没有' does not exist\n"
    code, _, err = remote("kb", "remove", "没有", "x.md")
    assert code == 1 and err.count("\n") == 1
    code, _, err = remote("demo")
    assert code == 1 and err == "error: this command works on a local zhiku home, not with --server\n"


def test_unreachable_server_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zhiku.cli import main
    from zhiku.cli.commands_server import bind

    sock = bind("127.0.0.1", 0)  # a port nobody listens on
    port = sock.getsockname()[1]
    sock.close()
    code = main(["--home", str(tmp_path / "h"), "--server", f"http://127.0.0.1:{port}", "kb", "list"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: cannot reach the zhiku server") and err.count("\n") == 1


def test_two_files_of_one_name_are_never_one_replacing_the_other(remote, zk: Zhiku, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`kb add a/x.md b/x.md` with --server: as locally, the second is an error for that file."""
    first, second = tmp_path / "a" / "x.md", tmp_path / "b" / "x.md"
    for path, text in ((first, ZH), (second, EN)):
        path.parent.mkdir()
        path.write_text(text, encoding="utf-8")
    assert remote("kb", "create", "制度")[0] == 0
    code, out, err = remote("kb", "add", "制度", str(first), str(second))
    assert code == 1 and "1 added" in out and "1 failed" in out
    assert "failed: x.md: another file of this batch is also named 'x.md'" in err
    assert [f.name for f in zk.list_files("制度")] == ["x.md"]
    assert "三十日内" in zk.search(["制度"], "报销申请的期限")[0].text  # the first one's
