"""Pictures through ingestion (zhiku/ingest/pictures.py): stored under the KB's data folder by
content hash, captioned by a vision model when one is configured (a real OpenAI-compatible server
with image input on 127.0.0.1: ``zhiku.testing.openai_server.VisionServer``, whose caption is made
from the picture's bytes, so a caption found proves that picture arrived), the captions searchable,
failures reported per picture without failing the file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.ingest.test_pictures import drawing, make_docx, make_pdf
from zhiku import Zhiku, load_settings
from zhiku.testing.openai_server import VisionServer, picture_caption


class Outcomes:
    def __init__(self) -> None:
        self.finished: dict[str, tuple[str, str]] = {}

    def files_found(self, total: int) -> None: ...
    def file_started(self, name: str, chunks: int) -> None: ...
    def chunks_embedded(self, n: int) -> None: ...

    def file_finished(self, name: str, outcome: str, detail: str = "") -> None:
        self.finished[name] = (outcome, detail)


def _app(home: Path, vision: VisionServer | None = None, **ingest: Any) -> Zhiku:
    llm: dict[str, Any] = {"detect_local": False}
    if vision is not None:
        llm["models"] = {"eyes": {"type": "openai", "base_url": vision.base_url, "model": vision.model,
                                  "vision": True, "read_timeout_s": 10}}
    overrides = {"embedding": {"default": "static"}, "llm": llm, "ingest": ingest}
    return Zhiku(load_settings(home=home, overrides=overrides, environ={}))


@pytest.fixture(autouse=True)
def _no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIKU_DISABLE_OCR", "1")  # the captions are what is tested here


@pytest.fixture
def vision() -> Iterator[VisionServer]:
    with VisionServer() as server:
        yield server


def test_pictures_are_stored_by_hash_captioned_and_the_captions_searchable(
        tmp_path: Path, vision: VisionServer) -> None:
    path = make_pdf(tmp_path / "report.pdf", {2: drawing(1), 3: drawing(2)})
    zk = _app(tmp_path / "home", vision)
    try:
        kb = zk.create_kb("pics")
        progress = Outcomes()
        report = zk.add_files("pics", [path], progress=progress)
        assert report.added == ["report.pdf"] and progress.finished["report.pdf"][0] == "added"
        assert "not captioned" not in progress.finished["report.pdf"][1]
        folder = tmp_path / "home" / "kbs" / kb.id / "images"
        stored = sorted(folder.iterdir())
        assert len(stored) == 2 and all(p.suffix == ".png" for p in stored)
        for p in stored:  # named by the content's hash, nothing from the document
            assert p.stem == hashlib.sha256(p.read_bytes()).hexdigest()
        _, chunks = zk.file_chunks("pics", "report.pdf")
        captioned = [c for c in chunks if c.meta.get("caption")]
        assert {c.page for c in captioned} == {2, 3}
        for p in stored:
            image_id, caption = p.stem, picture_caption(p.read_bytes())  # made from the very bytes it received
            chunk = next(c for c in captioned if image_id in c.meta["captions"])
            assert chunk.meta["captions"][image_id] == caption and caption in chunk.text
            assert image_id in chunk.meta["images"] and chunk.meta["caption_model"] == "eyes"
            assert {chunk.page, chunk.page_end or chunk.page} <= {2, 3}
            hits = zk.search(["pics"], caption.split(" of ")[0], top_k=3)  # "diagram <hash>"
            assert caption in hits[0].text and image_id in hits[0].images
        assert vision.pictures_seen == 2 and len(vision.requests) == 2
        assert all(r["messages"][0]["content"][1]["type"] == "image_url" for r in vision.requests)
    finally:
        zk.close()


def test_without_a_vision_model_pictures_are_kept_and_shown_but_not_captioned(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "r.docx", [drawing(7)])
    zk = _app(tmp_path / "home")
    try:
        kb = zk.create_kb("pics")
        zk.add_files("pics", [path])
        _, chunks = zk.file_chunks("pics", "r.docx")
        image_id = hashlib.sha256(drawing(7)).hexdigest()
        assert any(image_id in (c.meta.get("images") or []) for c in chunks)
        assert not any(c.meta.get("caption") for c in chunks)
        assert (tmp_path / "home" / "kbs" / kb.id / "images" / f"{image_id}.png").read_bytes() == drawing(7)
    finally:
        zk.close()


def test_a_picture_that_fails_is_reported_and_the_file_is_still_indexed(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "r.docx", [drawing(1), drawing(2, size=(300, 200))])
    with VisionServer(fail_after=1) as vision:
        zk = _app(tmp_path / "home", vision)
        try:
            zk.create_kb("pics")
            progress = Outcomes()
            zk.add_files("pics", [path], progress=progress)
            outcome, detail = progress.finished["r.docx"]
            assert outcome == "added"
            assert "1 picture not captioned" in detail and "500" in detail, detail
            _, chunks = zk.file_chunks("pics", "r.docx")
            captions = [c for c in chunks if c.meta.get("caption")]
            assert len(captions) == 1 and picture_caption(drawing(1)) in captions[0].text  # the largest first
        finally:
            zk.close()


def test_captions_per_file_are_capped(tmp_path: Path, vision: VisionServer) -> None:
    path = make_docx(tmp_path / "r.docx", [drawing(1), drawing(2), drawing(3)])
    zk = _app(tmp_path / "home", vision, picture_captions=1)
    try:
        zk.create_kb("pics")
        progress = Outcomes()
        zk.add_files("pics", [path], progress=progress)
        assert "2 pictures not captioned: over the 1 pictures captioned per file" in progress.finished["r.docx"][1]
        assert vision.pictures_seen == 1
    finally:
        zk.close()
