"""Adding, replacing, skipping and removing files: what `kb add` promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku import InvalidInput, NotFound, Zhiku
from zhiku.errors import Conflict


def write(p: Path, text: str, encoding: str = "utf-8") -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding=encoding)
    return p


ZH = "# 年假制度\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。\n"
EN = "# Refunds\n\nRefunds are paid within 14 days of receiving the returned item.\n"


def test_add_search_and_list(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("手册", description="policies")
    docs = tmp_path / "docs"
    write(docs / "leave.md", ZH)
    write(docs / "sub" / "refund.md", EN)
    write(docs / ".hidden" / "secret.md", "secret")
    report = app.add_files("手册", [docs])
    assert report.ok and sorted(report.added) == ["docs/leave.md", "docs/sub/refund.md"]
    files = {f.name: f for f in app.list_files("手册")}
    assert set(files) == {"docs/leave.md", "docs/sub/refund.md"}
    assert all(f.status == "indexed" and f.chunks >= 1 and len(f.sha256) == 64 for f in files.values())
    kb = app.kb("手册")
    assert (kb.files, kb.chunks) == (2, sum(f.chunks for f in files.values()))
    hits = app.search(["手册"], "年假多少天", mode="lexical")
    assert hits[0].file == "docs/leave.md" and 0 < hits[0].score <= 1
    # stored copies live under generated ids, never under the user's names
    stored = list((app.settings.home / "kbs" / kb.id / "files").iterdir())
    assert sorted(p.name for p in stored) == sorted(f.id for f in files.values())


def test_unchanged_files_are_skipped_and_force_reingests(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("kb")
    f = write(tmp_path / "a.md", EN)
    first = app.add_files("kb", [f])
    again = app.add_files("kb", [f])
    assert first.added == ["a.md"] and again.skipped == [("a.md", "unchanged")] and not again.added
    forced = app.add_files("kb", [f], force=True)
    assert forced.replaced == ["a.md"]
    assert forced.embedded == 0, "re-ingesting unchanged text must reuse cached embeddings"
    assert [x.name for x in app.list_files("kb")] == ["a.md"]


def test_same_content_under_another_name_is_skipped(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("kb")
    app.add_files("kb", [write(tmp_path / "a.md", EN)])
    report = app.add_files("kb", [write(tmp_path / "copy.md", EN)])
    assert report.skipped == [("copy.md", "same content as a.md")]


def test_two_files_of_one_name_in_one_batch_are_never_one_replacing_the_other(app: Zhiku, tmp_path: Path) -> None:
    """`kb add a/x.md b/x.md`: both are named x.md; the first is added, the second is an error for
    that file (not a silent replacement); their folder keeps both under their folder names."""
    app.create_kb("kb")
    docs = tmp_path / "docs"
    first, second = write(docs / "a" / "x.md", ZH), write(docs / "b" / "x.md", EN)
    report = app.add_files("kb", [first, second])
    assert report.added == ["x.md"] and len(report.failed) == 1
    name, why = report.failed[0]
    assert name == "x.md" and "also named 'x.md'" in why and str(first) in why
    assert [f.name for f in app.list_files("kb")] == ["x.md"]
    assert "年假" in app.search(["kb"], "年假有几天")[0].text  # the first one's, untouched
    report = app.add_files("kb", [docs])  # from their folder: each under its folder name
    assert "docs/b/x.md" in report.added and not report.failed
    assert ("docs/a/x.md", "same content as x.md") in report.skipped  # its bytes are in already


def test_changed_file_replaces_old_version(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("kb")
    f = write(tmp_path / "policy.md", "Refunds are paid within 14 days.")
    app.add_files("kb", [f])
    write(f, "Refunds are paid within 30 days by bank transfer.")
    report = app.add_files("kb", [f])
    assert report.replaced == ["policy.md"]
    files = app.list_files("kb")
    assert len(files) == 1 and files[0].status == "indexed"
    texts = [h.text for h in app.search(["kb"], "refund days", mode="lexical")]
    assert any("30 days" in t for t in texts) and not any("14 days" in t for t in texts)
    kb = app.kb("kb")
    assert len(list((app.settings.home / "kbs" / kb.id / "files").iterdir())) == 1


def test_bad_file_is_isolated_and_reported(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("kb")
    good = write(tmp_path / "good.md", EN)
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    unknown = write(tmp_path / "data.xyz", "what is this")
    report = app.add_files("kb", [bad, good, unknown])
    assert report.added == ["good.md"]
    failed = dict(report.failed)
    assert set(failed) == {"broken.pdf", "data.xyz"}
    assert "xyz" in failed["data.xyz"]
    statuses = {f.name: (f.status, f.error) for f in app.list_files("kb")}
    assert statuses["good.md"][0] == "indexed"
    assert statuses["broken.pdf"][0] == "failed" and statuses["broken.pdf"][1]
    # a failed new version never hides the old good one
    write(tmp_path / "v" / "good.md", "")
    (tmp_path / "v" / "good.md").write_bytes(b"\x00\x01\x02binary junk\xff" * 10)
    app.add_files("kb", [tmp_path / "v" / "good.md"])
    assert any("14 days" in h.text for h in app.search(["kb"], "refunds paid", mode="lexical"))


def test_retrying_a_failing_file_keeps_only_its_newest_failure(app: Zhiku, tmp_path: Path) -> None:
    kb = app.create_kb("kb")
    bad = tmp_path / "broken.pdf"
    for attempt in range(3):  # the user retries, sometimes with other broken bytes
        bad.write_bytes(b"%%PDF-1.4 not really a pdf, attempt %d" % attempt)
        assert app.add_files("kb", [bad]).failed
    rows = [f for f in app.list_files("kb") if f.name == "broken.pdf"]
    assert len(rows) == 1 and rows[0].status == "failed"
    stored = app.settings.home / "kbs" / kb.id / "files"
    assert sorted(p.name for p in stored.iterdir()) == [rows[0].id]  # earlier attempts' copies went too
    assert not [p for p in app.check("kb") if "stray" in p or "broken.pdf" in p]


def test_remove_and_missing(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("kb")
    app.add_files("kb", [write(tmp_path / "a.md", EN), write(tmp_path / "b.md", ZH)])
    assert app.remove_files("kb", ["a.md"]) == ["a.md"]
    assert [f.name for f in app.list_files("kb")] == ["b.md"]
    assert all(h.file == "b.md" for h in app.search(["kb"], "refunds paid within days", mode="dense"))
    with pytest.raises(NotFound):
        app.remove_files("kb", ["a.md"])
    with pytest.raises(InvalidInput, match="no such file"):
        app.add_files("kb", [tmp_path / "nope.md"])
    with pytest.raises(InvalidInput, match="no files match"):
        app.add_files("kb", [str(tmp_path / "*.nothing")])


def test_kb_names(app: Zhiku) -> None:
    app.create_kb("知识库 一号")
    with pytest.raises(Conflict):
        app.create_kb("知识库 一号")
    for bad in ["../etc", "a/b", "a\\b", "", " lead", "con:1", "x" * 101, ".."]:
        with pytest.raises(InvalidInput):
            app.create_kb(bad)
    assert [k.name for k in app.list_kbs()] == ["知识库 一号"]


def test_delete_kb_removes_everything(app: Zhiku, tmp_path: Path) -> None:
    kb = app.create_kb("kb")
    app.add_files("kb", [write(tmp_path / "a.md", EN)])
    app.delete_kb("kb")
    assert app.list_kbs() == []
    assert not (app.settings.home / "kbs" / kb.id).exists()
    assert not (app.settings.home / "indexes" / kb.id).exists()
    with pytest.raises(NotFound):
        app.search(["kb"], "refund")


def test_file_filter_and_several_kbs(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("zh")
    app.create_kb("en")
    app.add_files("zh", [write(tmp_path / "zh" / "leave.md", ZH)])
    app.add_files("en", [write(tmp_path / "en" / "refund.md", EN), write(tmp_path / "en" / "other.txt", "Unrelated text about cats.")])
    hits = app.search(["zh", "en"], "refund 年假", top_k=10, mode="lexical")
    assert {h.kb for h in hits} == {"zh", "en"}
    only = app.search(["en"], "refund", file_glob="*.txt", mode="dense", top_k=10)
    assert {h.file for h in only} == {"other.txt"}
    assert app.search(["en"], "refund", file_glob="*.pdf") == []
