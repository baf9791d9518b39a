"""The command line's manners (issue 21, item 6): help without `<bool>` after flags, usage
mistakes as one line on stderr, counts in good English, `kb files` readable in 80 columns, failure
reasons without the list of every extension, `kb check` in plain words."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]


def every_command() -> Iterator[tuple[list[str], Any]]:
    import typer

    from zhiku.cli import _plain_flags, _register, app

    _register()
    root = _plain_flags(typer.main.get_command(app))

    def walk(path: list[str], command: Any) -> Iterator[tuple[list[str], Any]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk([*path, name], sub)

    yield from walk([], root)


def test_help_shows_no_type_after_plain_flags_and_every_json_flag_says_what_it_does(cli) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for path, command in every_command():
        r = cli(*path, "--help")
        assert r.code == 0, (path, r.err)
        assert "<bool>" not in r.out, path
        for param in command.params:
            if "--json" in getattr(param, "opts", []):
                assert param.help, f"zhiku {' '.join(path)} --json has no help text"
                checked += 1
    assert checked >= 10


def test_start_help_names_the_web_ui(cli) -> None:  # type: ignore[no-untyped-def]
    assert "web UI" in " ".join(cli("start", "--help").out.split())


@pytest.mark.parametrize("args, words, command", [
    (["kb", "files"], "missing argument", "kb files"),
    (["kb", "list", "--bogus"], "no such option: --bogus", "kb list"),
    (["search", "kb", "query", "--top-k", "many"], "--top-k", "search"),
    (["search", "kb", "query", "--top-k", "0"], "greater than or equal to 1", "search"),
    (["ask", "kb", "question", "-k", "0"], "greater than or equal to 1", "ask"),
    (["web", "search", "q", "--limit", "0"], "greater than or equal to 1", "web search"),
])
def test_usage_mistakes_are_one_line_on_stderr(cli, args: list[str], words: str, command: str) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("error: ") and r.err.count("\n") == 1, r.err
    assert words in r.err and "╭" not in r.err and f"(see `zhiku {command} --help`)" in r.err


def test_one_chunk_is_one_chunk(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = tmp_path / "one.md"
    doc.write_text("# One\n\nA single short paragraph.\n", encoding="utf-8")
    cli("kb", "create", "kb")
    r = cli("kb", "add", "kb", str(doc))
    assert r.code == 0, r.err
    assert "1 chunk (1 newly embedded)" in r.out and "(1 chunk)" in r.err
    # "1 chunks" nowhere, the progress bar's rate ("128.1 chunks/s") aside
    assert not re.search(r"(?<![\d.])1 chunks(?!/s)", r.out + r.err), r.out + r.err
    assert "one.md: 1 chunk (indexed)" in cli("kb", "chunks", "kb", "one.md").out
    assert cli("kb", "rebuild", "kb").out.rstrip().endswith(": 1 chunk")


def test_failure_reasons_leave_out_the_list_of_every_extension(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "data.xyz").write_text("?", encoding="utf-8")
    (tmp_path / "d" / "ok.md").write_text("# ok\n\nfine.\n", encoding="utf-8")
    cli("kb", "create", "kb")
    r = cli("kb", "add", "kb", str(tmp_path / "d"))
    assert r.code == 1
    assert ".docx" not in r.out + r.err
    assert r.err.count("no loader reads '.xyz' files (`zhiku formats` lists the types zhiku reads)") == 2
    assert "failed: d/data.xyz: no loader reads" in r.err  # the name once, not "d/data.xyz: data.xyz: ..."
    r = cli("kb", "files", "kb")
    assert ".docx" not in r.out and "failed: d/data.xyz: no loader reads '.xyz' files" in r.out
    formats = json.loads(cli("formats", "--json").out)
    assert ".pdf" in formats["pdf"] and ".py" in formats["code"]


def test_kb_files_in_80_columns_shows_names_apart(cli, tmp_path: Path, home: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "reports"
    for dept in ("finance", "facilities"):
        (folder / f"quarterly-report-2024-department-of-{dept}.md").parent.mkdir(exist_ok=True)
        (folder / f"quarterly-report-2024-department-of-{dept}.md").write_text(f"# {dept}\n\ntext\n", encoding="utf-8")
    cli("kb", "create", "kb")
    cli("kb", "add", "kb", str(folder))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")} | {"COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-m", "zhiku", "--home", str(home), "kb", "files", "kb"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in done.stdout
    first_column = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    for dept in ("finance", "facilities"):
        assert f"reports/quarterly-report-2024-department-of-{dept}.md" in first_column


def _damage(home: Path) -> None:
    faiss_file = next(home.glob("indexes/*/vectors.faiss"))
    faiss_file.write_bytes(faiss_file.read_bytes()[:20])


def test_kb_check_speaks_plainly_and_recommends_repair_only_for_what_it_fixes(cli, tmp_path: Path, home: Path) -> None:  # type: ignore[no-untyped-def]
    doc = tmp_path / "a.md"
    doc.write_text("# A\n\nalpha\n", encoding="utf-8")
    cli("kb", "create", "制度 2024")
    cli("kb", "add", "制度 2024", str(doc))
    _damage(home)
    r = cli("kb", "check", "制度 2024")
    assert r.code == 1
    assert "faiss" not in r.err and "Error in" not in r.err and "NAME" not in r.err
    assert "problem: the index files are damaged or unreadable: they must be rebuilt" in r.err
    assert "run `zhiku kb check '制度 2024' --repair`" in r.err
    assert cli("kb", "check", "制度 2024", "--repair").code == 0
    next(home.glob("kbs/*/files/*")).unlink()  # a stored copy lost: repair cannot bring it back
    r = cli("kb", "check", "制度 2024")
    assert r.code == 1 and "add the file again" in r.err and "--repair" not in r.err
    r = cli("kb", "check", "制度 2024", "--repair")
    assert r.code == 1 and "repaired" not in r.out


def test_help_loads_no_server_library() -> None:
    code = ("import sys\nfrom zhiku.cli import main\ncode = main(['--help'])\n"
            "import json\nprint(json.dumps([code, sorted(sys.modules)]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    code_, loaded = json.loads(done.stdout.splitlines()[-1])
    assert code_ == 0
    heavy = ("sqlalchemy", "numpy", "faiss", "fastapi", "uvicorn", "streamlit", "yaml", "httpx", "pydantic", "jieba")
    assert [m for m in loaded if m.split(".")[0] in heavy or m.startswith("zhiku.app")] == []
