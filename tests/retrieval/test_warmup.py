"""`zhiku start` loads every KB's indexes before serving, so the first question does not."""

from __future__ import annotations

from pathlib import Path

from zhiku import Zhiku, load_settings


def test_warm_up_loads_every_kb_index(home: Path, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# 年假\n入职满一年的员工有十五天年假。", encoding="utf-8")
    settings = load_settings(home=home, overrides={"embedding": {"default": "static"}})
    with Zhiku(settings) as app:
        for name in ("one", "two"):
            app.create_kb(name)
            assert app.add_files(name, [tmp_path / "a.md"]).ok
    with Zhiku(settings) as app:  # a fresh process: nothing loaded yet
        kbs = app.list_kbs()
        assert not any(app.indexes.is_open(kb.id) for kb in kbs)
        spent = app.warm_up()
        assert all(app.indexes.is_open(kb.id) for kb in kbs)
        assert set(spent) == {"tokenizer", "indexes", "embedders"}
        assert app.search(["two"], "年假")[0].text.endswith("十五天年假。")


def test_a_broken_index_does_not_stop_the_warm_up(home: Path, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("长城很长。", encoding="utf-8")
    settings = load_settings(home=home, overrides={"embedding": {"default": "static"}})
    with Zhiku(settings) as app:
        kb = app.create_kb("one")
        assert app.add_files("one", [tmp_path / "a.md"]).ok
    (home / "indexes" / kb.id / "vectors.faiss").write_bytes(b"not an index")
    with Zhiku(settings) as app:
        app.warm_up()  # the damaged index is rebuilt from the database, as on a first search
        assert app.indexes.is_open(kb.id)
        assert app.search(["one"], "长城")[0].text == "长城很长。"


def test_an_empty_home_starts_without_loading_anything(app: Zhiku) -> None:
    assert app.warm_up() == {}
