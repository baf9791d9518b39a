"""Uploads of one name racing each other leave one file (issue 20, item 6: with four ingest workers,
four parallel uploads of one name left 2-3 indexed versions while `kb check` said consistent, because
each decided what it replaces before its long embedding step). The replaced versions are decided at
commit time now: the last commit wins, the others' chunks are never searchable, and `kb check`
reports (and --repair removes) a name indexed more than once."""

from __future__ import annotations

import threading
from pathlib import Path

from zhiku import Zhiku
from zhiku.store.db import files
from sqlalchemy import update

WORDS = ["aardvark", "bumblebee", "chinchilla", "dromedary"]


class _AllAtTheStartingLine:
    """Holds every upload at the start of its embedding until all four are there, so that each has
    read the name's versions before any of them commits (what four busy workers do)."""

    def __init__(self, n: int) -> None:
        self.barrier = threading.Barrier(n, timeout=60)

    def files_found(self, total: int) -> None: ...
    def file_started(self, name: str, chunks: int) -> None:
        self.barrier.wait()
    def chunks_embedded(self, n: int) -> None: ...
    def file_finished(self, name: str, outcome: str, detail: str = "") -> None: ...


def test_four_parallel_uploads_of_one_name_leave_one_file(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("kb")
    paths = []
    for i, word in enumerate(WORDS):
        (tmp_path / str(i)).mkdir()
        p = tmp_path / str(i) / "notes.md"
        p.write_text(f"# Notes\n\nThe {word} is the animal of version {i}.\n", encoding="utf-8")
        paths.append(p)
    progress = _AllAtTheStartingLine(len(paths))
    errors: list[BaseException] = []

    def upload(p: Path) -> None:
        try:
            report = app.add_files("kb", [p], progress=progress)
            assert report.ok, report.failed
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=upload, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    kb = app.kb("kb")
    records = app.catalog.list_files(kb.id)
    assert [(f.name, f.status) for f in records] == [("notes.md", "indexed")]
    found = [w for w in WORDS if any(w in h.text for h in app.search(["kb"], w, top_k=5, mode="lexical"))]
    assert len(found) == 1, f"several versions searchable: {found}"
    assert sorted(p.name for p in app.ingestor.stored_dir(kb).iterdir()) == [records[0].id]
    assert app.check("kb") == []


def test_kb_check_finds_and_repairs_a_name_indexed_twice(app: Zhiku, tmp_path: Path) -> None:
    """A KB written before the fix may hold two indexed versions of a name: check says so, repair keeps
    the newest."""
    app.create_kb("kb")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.md").write_text("The aardvark digs.\n", encoding="utf-8")
    (tmp_path / "b" / "y.md").write_text("The bumblebee hums.\n", encoding="utf-8")
    app.add_files("kb", [tmp_path / "a" / "x.md", tmp_path / "b" / "y.md"])
    kb = app.kb("kb")
    older, newer = sorted(app.catalog.list_files(kb.id), key=lambda f: f.name)
    with app.engine.begin() as conn:  # the state the race left: two indexed files of one name
        conn.execute(update(files).where(files.c.id == newer.id).values(name="x.md"))
    problems = app.check("kb")
    assert any("file 'x.md' is indexed 2 times" in p for p in problems), problems
    app.check("kb", repair=True)
    assert app.check("kb") == []
    [kept] = app.catalog.list_files(kb.id)
    assert kept.id == newer.id
    assert not any("aardvark" in h.text for h in app.search(["kb"], "aardvark", top_k=5, mode="lexical"))
