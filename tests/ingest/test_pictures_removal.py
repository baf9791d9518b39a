"""Pictures leave the disk with the files that showed them (zhiku/ingest/pictures.py): a file removed,
replaced by a new version, taken out of search, a chunk deleted, an ingestion that stops half-way, a
KB deleted. A picture another file still shows stays (pictures are stored once per KB, by content
hash), and so does one that a file being added has pinned. ``zhiku kb check`` reports the pictures
no chunk shows and ``--repair`` removes them. Real DOCX and PDF files with generated pictures."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import pytest

from tests.ingest.test_pictures import drawing, make_docx, make_pdf
from zhiku import Zhiku, load_settings
from zhiku.errors import Cancelled


@pytest.fixture(autouse=True)
def _no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIKU_DISABLE_OCR", "1")


OVERRIDES = {"embedding": {"default": "static"}, "llm": {"detect_local": False}}


@pytest.fixture
def zk(tmp_path: Path) -> Iterator[Zhiku]:
    app = Zhiku(load_settings(home=tmp_path / "home", environ={}, overrides=OVERRIDES))
    try:
        yield app
    finally:
        app.close()


def pid(seed: int, size: tuple[int, int] = (400, 300)) -> str:
    return hashlib.sha256(drawing(seed, size)).hexdigest()


def stored(zk: Zhiku, kb: str) -> set[str]:
    folder = zk.ingestor.kbs_root / zk.kb(kb).id / "images"
    return {p.name.split(".")[0] for p in folder.iterdir()} if folder.is_dir() else set()


def test_a_removed_or_replaced_file_takes_its_pictures_but_not_those_another_file_shows(
        zk: Zhiku, tmp_path: Path) -> None:
    removed_and_replaced(zk, tmp_path)


@pytest.mark.slow
def test_the_same_on_postgresql(postgres_url: str, tmp_path: Path) -> None:  # chunks' meta read there too
    overrides = {**OVERRIDES, "database_url": postgres_url, "index": {"vector": "pgvector", "lexical": "pg_bm25"}}
    with Zhiku(load_settings(home=tmp_path / "home", environ={}, overrides=overrides)) as zk:
        removed_and_replaced(zk, tmp_path)


def removed_and_replaced(zk: Zhiku, tmp_path: Path) -> None:
    zk.create_kb("pics")
    a = make_docx(tmp_path / "a.docx", [drawing(1), drawing(2)])
    b = make_docx(tmp_path / "b.docx", [drawing(2), drawing(3)])
    zk.add_files("pics", [a, b])
    assert stored(zk, "pics") == {pid(1), pid(2), pid(3)}

    zk.delete_file("pics", next(f.id for f in zk.list_files("pics") if f.name == "a.docx"))
    assert stored(zk, "pics") == {pid(2), pid(3)}  # picture 2 is b's too

    (tmp_path / "v2").mkdir()
    b2 = make_docx(tmp_path / "v2" / "b.docx", [drawing(3), drawing(4)])  # a new version of b
    report = zk.add_files("pics", [b2])
    assert report.replaced == ["b.docx"]
    assert stored(zk, "pics") == {pid(3), pid(4)}  # the old version's picture 2 went, 3 is shown again

    assert zk.remove_files("pics", ["b.docx"]) == ["b.docx"]
    assert stored(zk, "pics") == set()
    assert zk.check("pics") == []


def test_unindexing_deleting_chunks_and_deleting_the_kb_take_the_pictures(zk: Zhiku, tmp_path: Path) -> None:
    kb = zk.create_kb("pics")
    path = make_pdf(tmp_path / "report.pdf", {2: drawing(5), 3: drawing(6)})
    zk.add_files("pics", [path])
    assert {pid(5), pid(6)} <= stored(zk, "pics")

    assert zk.unindex_file("pics", "report.pdf", "out of search for a while")
    assert stored(zk, "pics") & {pid(5), pid(6)} == set()
    zk.add_files("pics", [path], force=True)  # brought back: its pictures are extracted again
    assert {pid(5), pid(6)} <= stored(zk, "pics")

    _, chunks = zk.file_chunks("pics", "report.pdf")
    showing = [c for c in chunks if pid(6) in (c.meta.get("images") or [])]
    assert showing
    for c in showing:
        zk.delete_chunk("pics", c.id)
    assert pid(6) not in stored(zk, "pics") and pid(5) in stored(zk, "pics")
    assert zk.check("pics") == []

    folder = zk.ingestor.kbs_root / kb.id
    zk.delete_kb("pics")
    assert not folder.exists()


def test_an_ingestion_stopped_half_way_leaves_no_picture(zk: Zhiku, tmp_path: Path) -> None:
    zk.create_kb("pics")
    keep = make_docx(tmp_path / "keep.docx", [drawing(1)])
    zk.add_files("pics", [keep])
    path = make_docx(tmp_path / "r.docx", [drawing(1), drawing(8)])
    stop = []

    class StopOnceRead:
        def files_found(self, total: int) -> None: ...
        def chunks_embedded(self, n: int) -> None: ...
        def file_finished(self, name: str, outcome: str, detail: str = "") -> None: ...

        def file_started(self, name: str, chunks: int) -> None:
            stop.append(name)  # read, split and its pictures stored: now cancelled

    with pytest.raises(Cancelled):
        zk.add_files("pics", [path], progress=StopOnceRead(), cancelled=lambda: bool(stop))
    assert stop == ["r.docx"]
    assert stored(zk, "pics") == {pid(1)}  # keep.docx's picture stays; r.docx's own is gone


def test_kb_check_reports_and_repairs_pictures_no_chunk_shows_but_not_pinned_ones(
        zk: Zhiku, tmp_path: Path) -> None:
    from zhiku.ingest.loaders import load_file
    from zhiku.ingest.pictures import images_dir, keep_pictures, unpin

    kb = zk.create_kb("pics")
    zk.add_files("pics", [make_docx(tmp_path / "a.docx", [drawing(1)])])
    folder = images_dir(zk.ingestor.kbs_root, kb.id)
    (folder / f"{pid(9)}.png").write_bytes(drawing(9))  # left by a crash, say
    (folder / f"{pid(10)}.png.123.part").write_bytes(drawing(10))

    # a file being added has stored its pictures, its chunks not committed yet: they are pinned
    doc = load_file(make_docx(tmp_path / "b.docx", [drawing(1), drawing(11)]))
    keep_pictures(doc, folder, zk.settings.ingest, None)
    zk.remove_files("pics", ["a.docx"])
    assert {pid(1), pid(11)} <= stored(zk, "pics")  # pinned: picture 1 stays though no chunk shows it now

    problems = zk.check("pics")
    assert len(problems) == 1 and "2 stored pictures shown by no chunk" in problems[0], problems
    unpin(doc)  # that ingestion failed, say, without removing them (a killed process)
    assert "4 stored pictures shown by no chunk" in zk.check("pics", repair=True)[0]
    assert stored(zk, "pics") == set()
    assert zk.check("pics") == []
