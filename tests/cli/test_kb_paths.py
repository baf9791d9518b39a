"""`zhiku kb add` and `kb remove` with folders and patterns, as the README shows them (issue 21,
item 5): a pattern picks files of the folders given, one that finds nothing is a warning, and a
file's name in the KB does not depend on how it was given."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from zhiku.cli.paths import expand, folder_file_name

TEXT = "# {0}\n\nThe {0} policy says staff may take leave after one year of service.\n"


def write(path: Path, title: str = "Leave") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEXT.format(title), encoding="utf-8")
    return path


@pytest.fixture
def handbook(tmp_path: Path) -> Path:
    """~/docs/handbook with two Markdown files (one in a subfolder), a text file and a hidden one."""
    root = tmp_path / "docs" / "handbook"
    write(root / "leave.md")
    write(root / "travel" / "expenses.md", "Expenses")
    write(root / "notes.txt", "Notes")
    write(root / ".secret.md", "Secret")
    return root


def names(cli, kb: str) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(f["name"] for f in json.loads(cli("kb", "files", kb, "--json").out))


def test_a_pattern_picks_files_of_the_folder_given_not_of_the_current_one(
        cli, handbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "unrelated.md")
    monkeypatch.chdir(elsewhere)  # where the README's user stands: not in the folder
    cli("kb", "create", "手册")
    r = cli("kb", "add", "手册", str(handbook) + "/", "*.md")
    assert r.code == 0, r.err
    assert "2 added" in r.out and "warning" not in r.err
    assert names(cli, "手册") == ["handbook/leave.md", "handbook/travel/expenses.md"]


def test_a_pattern_that_finds_nothing_is_a_warning_and_the_rest_is_added(cli, handbook: Path) -> None:  # type: ignore[no-untyped-def]
    cli("kb", "create", "kb")
    r = cli("kb", "add", "kb", str(handbook), "*.pdf", "*.txt")
    assert r.code == 0, r.err
    assert f"warning: no files in {handbook} match '*.pdf'" in r.err
    assert "1 added" in r.out and names(cli, "kb") == ["handbook/notes.txt"]


def test_a_missing_path_and_an_empty_folder_are_warnings_beside_files_found(cli, handbook: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty"
    empty.mkdir()
    cli("kb", "create", "kb")
    r = cli("kb", "add", "kb", str(handbook / "leave.md"), str(empty), str(tmp_path / "nothere.md"))
    assert r.code == 0, r.err
    assert f"warning: no files found in {empty}" in r.err
    assert f"warning: no such file or folder: {tmp_path / 'nothere.md'}" in r.err
    assert "1 added" in r.out


def test_an_empty_folder_alone_says_so_in_one_line_and_fails(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty"
    (empty / ".git").mkdir(parents=True)
    (empty / ".git" / "HEAD").write_text("ref", encoding="utf-8")  # hidden: not a file to add
    cli("kb", "create", "kb")
    r = cli("kb", "add", "kb", str(empty))
    assert r.code == 1
    assert r.err == f"error: nothing added: no files found in {empty}\n"
    r = cli("kb", "add", "kb", str(empty), "*.pdf")
    assert r.code == 1 and r.err.count("\n") == 1 and "nothing added" in r.err


def test_without_a_folder_a_pattern_is_matched_in_the_current_folder(
        cli, handbook: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(handbook)  # Windows' shells leave "*.md" to the program
    cli("kb", "create", "kb")
    r = cli("kb", "add", "kb", "*.md")
    assert r.code == 0, r.err
    assert names(cli, "kb") == ["leave.md"]
    r = cli("kb", "add", "kb", "*.pdf")
    assert r.code == 1 and r.err == "error: nothing added: no files match '*.pdf'\n"


def test_a_pattern_written_as_a_path_is_matched_where_it_points_even_beside_a_folder(
        cli, handbook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    write(tmp_path / "memos" / "m1.md", "Memo")
    write(tmp_path / "memos" / "m2.txt", "Memo two")
    monkeypatch.chdir(tmp_path)
    cli("kb", "create", "kb")
    r = cli("kb", "add", "kb", str(handbook / "travel"), str(tmp_path / "memos" / "*.md"), "./memos/*.txt")
    assert r.code == 0 and "warning" not in r.err, r.err
    assert names(cli, "kb") == ["m1.md", "m2.txt", "travel/expenses.md"]


def test_a_files_name_does_not_depend_on_how_it_was_given(
        cli, handbook: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    cli("kb", "create", "kb")
    assert cli("kb", "add", "kb", str(handbook)).code == 0
    before = names(cli, "kb")
    monkeypatch.chdir(handbook.parent)
    r = cli("kb", "add", "kb", "handbook/travel/expenses.md")  # docs/x, from the folder above
    assert "1 skipped" in r.out, r.out + r.err  # the same file, already there: not a second copy
    monkeypatch.chdir(handbook / "travel")
    write(handbook / "travel" / "expenses.md", "Changed expenses")
    r = cli("kb", "add", "kb", "expenses.md")  # x, from its own folder
    assert "1 replaced" in r.out, r.out + r.err
    assert names(cli, "kb") == before
    # a name without a folder says nothing about where a file was: another leave.md stays apart
    other = write(handbook.parent / "other" / "leave.md", "Other")
    cli("kb", "add", "kb", str(other))
    assert cli("kb", "add", "kb", str(handbook)).code == 0
    assert names(cli, "kb") == sorted([*before, "leave.md"])


def test_a_file_given_with_its_folder_keeps_the_folders_name(handbook: Path) -> None:
    found = expand([str(handbook / "leave.md"), str(handbook)])
    assert sorted(s.name for s in found.sources) == ["handbook/leave.md", "handbook/notes.txt",
                                                      "handbook/travel/expenses.md"]


def test_names_are_joined_with_slashes_and_nfc_on_every_system(tmp_path: Path) -> None:
    assert folder_file_name(PureWindowsPath(r"C:\Users\li\docs\handbook"), PureWindowsPath(r"travel\x.pdf")) \
        == "handbook/travel/x.pdf"
    assert folder_file_name(PurePosixPath("/"), PurePosixPath("a/b.md")) == "a/b.md"  # the root has no name
    nfd = unicodedata.normalize("NFD", "café")  # how macOS hands out file names
    write(tmp_path / nfd / "menu.md")
    found = expand([str(tmp_path / nfd)])
    assert [s.name for s in found.sources] == ["café/menu.md"] == [unicodedata.normalize("NFC", "café") + "/menu.md"]


def test_kb_remove_takes_patterns(cli, handbook: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import io

    cli("kb", "create", "kb")
    cli("kb", "add", "kb", str(handbook))
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    r = cli("kb", "remove", "kb", "*.md")  # asks first: a pattern can match more than meant
    assert r.code == 1 and "handbook/leave.md" in r.err and len(names(cli, "kb")) == 3
    r = cli("kb", "remove", "kb", "travel/*", "*.pdf", "--yes")  # the end of a name matches too
    assert r.code == 0, r.err
    assert "warning: no file in 'kb' matches '*.pdf'" in r.err
    assert r.out == "removed 1 file: handbook/travel/expenses.md\n"
    r = cli("kb", "remove", "kb", "*.PDF", "gone.md")
    assert r.code == 1 and r.err.count("\n") == 1 and "gone.md" in r.err
    assert names(cli, "kb") == ["handbook/leave.md", "handbook/notes.txt"]


def test_with_server_patterns_and_names_work_as_locally(
        handbook: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`zhiku --server URL kb add/remove` with a folder and patterns: the same files, the same names."""
    from zhiku import Zhiku, load_settings
    from zhiku.api import create_app
    from zhiku.cli import main
    from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
    from zhiku.testing.live_server import LiveServer

    zk = Zhiku(load_settings(home=tmp_path / "server-home", overrides={"embedding": {"default": "static"}}, environ={}))
    live = LiveServer(create_app(zk), bind("127.0.0.1", 0), KEEP_ALIVE_S)
    try:
        def remote(*args: str) -> tuple[int, str, str]:
            code = main(["--home", str(tmp_path / "cli-home"), "--server", live.url, *args])
            captured = capsys.readouterr()
            return code, captured.out, captured.err

        assert remote("kb", "create", "手册")[0] == 0
        code, out, err = remote("kb", "add", "手册", str(handbook), "*.md", "*.pdf")
        assert code == 0, err
        assert "2 added" in out and f"warning: no files in {handbook} match '*.pdf'" in err
        code, out, err = remote("kb", "add", "手册", str(handbook / "leave.md"))  # by itself: the same file
        assert "1 skipped" in out, out + err
        assert sorted(f.name for f in zk.list_files("手册")) == ["handbook/leave.md", "handbook/travel/expenses.md"]
        code, out, err = remote("kb", "remove", "手册", "*/travel/*", "--yes")
        assert code == 0 and out == "removed 1 file: handbook/travel/expenses.md\n", err
    finally:
        live.stop()
        zk.close()
