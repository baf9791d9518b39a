"""Indexes are derived: missing, damaged or stale ones are found by `kb check` and rebuilt."""

from __future__ import annotations

from pathlib import Path

from zhiku import Zhiku, load_settings


def _kb(app: Zhiku, tmp_path: Path) -> str:
    app.create_kb("kb")
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.md").write_text("# Tea\n\nLongjing tea comes from Hangzhou.\n", encoding="utf-8")
    (d / "b.md").write_text("# 咖啡\n\n云南小粒咖啡产自普洱和保山。\n", encoding="utf-8")
    assert app.add_files("kb", [d]).ok
    return app.kb("kb").id


def test_consistent_kb_has_no_problems(app: Zhiku, tmp_path: Path) -> None:
    _kb(app, tmp_path)
    assert app.check("kb") == []


def test_a_kb_with_nothing_indexed_yet_checks_clean(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("empty")
    assert app.check("empty") == []
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    assert not app.add_files("empty", [broken]).ok  # only a failed file: still nothing to index
    assert app.check("empty") == []


def test_missing_indexes_are_rebuilt_from_the_database(home: Path, tmp_path: Path) -> None:
    settings = load_settings(home=home, overrides={"embedding": {"default": "static"}})
    with Zhiku(settings) as app:
        kb_id = _kb(app, tmp_path)
    import shutil

    shutil.rmtree(home / "indexes" / kb_id)
    with Zhiku(settings) as app:
        assert any("manifest" in p for p in app.check("kb"))
        hits = app.search(["kb"], "咖啡产自哪里", mode="lexical")  # rebuilt on first use
        assert hits[0].file == "docs/b.md"
        assert app.check("kb") == []


def test_damaged_index_is_never_trusted(home: Path, tmp_path: Path) -> None:
    settings = load_settings(home=home, overrides={"embedding": {"default": "static"}})
    with Zhiku(settings) as app:
        kb_id = _kb(app, tmp_path)
    (home / "indexes" / kb_id / "vectors.faiss").write_bytes(b"garbage")
    with Zhiku(settings) as app:
        assert any("unreadable" in p for p in app.check("kb"))
        assert app.search(["kb"], "Longjing tea", mode="dense")[0].file == "docs/a.md"
        assert app.check("kb") == []


def test_stale_index_after_another_process_changed_the_kb(home: Path, tmp_path: Path) -> None:
    settings = load_settings(home=home, overrides={"embedding": {"default": "static"}})
    with Zhiku(settings) as reader, Zhiku(settings) as writer:
        _kb(writer, tmp_path)
        assert len(reader.search(["kb"], "tea coffee 咖啡", top_k=10)) == 2
        (tmp_path / "c.md").write_text("Oolong tea is partly oxidised.", encoding="utf-8")
        writer.add_files("kb", [tmp_path / "c.md"])
        # the reader sees the new revision in the database and reloads
        assert {h.file for h in reader.search(["kb"], "oolong tea", top_k=10)} >= {"c.md"}


def test_repair_interrupted_files_and_strays(app: Zhiku, tmp_path: Path) -> None:
    kb_id = _kb(app, tmp_path)
    pending = app.catalog.add_pending_file(kb_id, "half.md", "0" * 64, 10, None)
    stored = app.settings.home / "kbs" / kb_id / "files"
    (stored / pending.id).write_bytes(b"half")
    (stored / "stray.part").write_bytes(b"leftover")
    problems = app.check("kb")
    assert any("interrupted" in p and "half.md" in p for p in problems)
    assert any("stray" in p for p in problems)
    app.check("kb", repair=True)
    assert app.check("kb") == []
    assert sorted(f.name for f in app.list_files("kb")) == ["docs/a.md", "docs/b.md"]
    assert not (stored / "stray.part").exists() and not (stored / pending.id).exists()


def test_cli_check_exit_codes(cli, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.md").write_text("hello world", encoding="utf-8")
    cli("kb", "create", "kb")
    cli("kb", "add", "kb", str(d))
    assert cli("kb", "check", "kb").code == 0
    kb_dir = next((home / "indexes").iterdir())
    (kb_dir / "manifest.json").unlink()
    r = cli("kb", "check", "kb")
    assert r.code == 1 and "problem:" in r.err and "--repair" in r.err
    r = cli("kb", "check", "kb", "--repair")
    assert r.code == 0 and "repaired:" in r.out and "consistent" in r.out
