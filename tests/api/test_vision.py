"""Pictures over the API: a citation's pictures served (GET /api/kbs/{kb}/files/{file}/images/{id}),
with no way to a path through it; questions with a picture on /v1/chat/completions and /api/chat
going to the vision model (a real OpenAI-compatible server with image input on 127.0.0.1:
``VisionServer``, which answers with a caption made from the picture's bytes), or refused with the
reason when none is configured."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.api.conftest import SyncASGITransport, assert_error
from tests.ingest.test_pictures import drawing, make_docx
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.client import ZhikuClient
from zhiku.errors import ZhikuError
from zhiku.testing.openai_server import VisionServer, picture_caption

PNG = drawing(11)
JPEG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()


@pytest.fixture(autouse=True)
def _no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIKU_DISABLE_OCR", "1")


@pytest.fixture
def vision() -> Iterator[VisionServer]:
    with VisionServer() as server:
        yield server


def _zhiku(home: Path, vision: VisionServer | None, plain_model: str | None = None) -> Zhiku:
    models: dict[str, Any] = {}
    if vision is not None:
        models["eyes"] = {"type": "openai", "base_url": vision.base_url, "model": vision.model, "vision": True}
        if plain_model:  # a chat model that takes no pictures (never called here)
            models[plain_model] = {"type": "openai", "base_url": vision.base_url, "model": vision.model}
    overrides = {"embedding": {"default": "static"}, "llm": {"detect_local": False, "models": models}}
    return Zhiku(load_settings(home=home, overrides=overrides, environ={}))


class Served:
    def __init__(self, zk: Zhiku) -> None:
        self.zk = zk
        self.transport = SyncASGITransport(create_app(zk))
        self.raw = httpx.Client(base_url="http://zhiku.test", transport=self.transport)
        self.client = ZhikuClient("http://zhiku.test", transport=self.transport)

    def close(self) -> None:
        self.client.close()
        self.raw.close()
        self.transport.close()
        self.zk.close()


@pytest.fixture
def with_vision(tmp_path: Path, vision: VisionServer) -> Iterator[Served]:
    served = Served(_zhiku(tmp_path / "home", vision, plain_model="words"))
    yield served
    served.close()


@pytest.fixture
def without_vision(tmp_path: Path) -> Iterator[Served]:
    served = Served(_zhiku(tmp_path / "home", None))
    yield served
    served.close()


def _kb_with_pictures(s: Served, tmp: Path) -> tuple[str, str]:
    """A KB 'pics' holding a docx with two pictures; (file id, the first picture's id)."""
    s.zk.create_kb("pics")
    s.zk.create_kb("other")
    s.zk.add_files("pics", [make_docx(tmp / "r.docx", [drawing(1), drawing(2)])])
    s.zk.add_files("other", [make_docx(tmp / "o.docx", [drawing(3)])])
    record, _ = s.zk.file_chunks("pics", "r.docx")
    return record.id, hashlib.sha256(drawing(1)).hexdigest()


def test_a_citation_shows_its_picture_and_the_route_serves_it(with_vision: Served, tmp_path: Path) -> None:
    file_id, first = _kb_with_pictures(with_vision, tmp_path)
    caption = picture_caption(drawing(1))
    reply = with_vision.client.chat("kb", caption.split(" of ")[0], kbs=["pics"])  # extractive: no default model
    cited = [c for c in reply.citations if c.images]
    assert cited and first in cited[0].images and caption in cited[0].text
    c = cited[0]
    assert with_vision.client.file_image(c.kb, c.file_id, first) == drawing(1)
    r = with_vision.raw.get(f"/api/kbs/pics/files/{file_id}/images/{first}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content == drawing(1)
    assert r.headers["x-content-type-options"] == "nosniff"
    listed = with_vision.client.file_images("pics", file_id)
    assert [p["id"] for p in listed] == [first, hashlib.sha256(drawing(2)).hexdigest()]
    assert listed[0]["caption"] == caption


def test_the_picture_route_reaches_no_path(with_vision: Served, tmp_path: Path) -> None:
    file_id, first = _kb_with_pictures(with_vision, tmp_path)
    other_file, _ = with_vision.zk.file_chunks("other", "o.docx")
    raw = with_vision.raw
    base = f"/api/kbs/pics/files/{file_id}/images"
    for bad in ("..%2F..%2F..%2Fzhiku.db", "%2e%2e", first.upper(), first + ".png", first[:-1], "x" * 64):
        r = raw.get(f"{base}/{bad}")
        assert r.status_code in (404, 422), (bad, r.status_code)
        assert r.headers["content-type"].startswith("application/json") and r.content != drawing(1)
    r = raw.get(f"{base}/../../../../zhiku.db")  # the client normalises it; the server never sees a file path
    assert r.status_code in (404, 422) and b"SQLite" not in r.content
    theirs = hashlib.sha256(drawing(3)).hexdigest()  # a picture of another KB's file, through this file
    assert_error(raw.get(f"{base}/{theirs}"), 404)
    assert_error(raw.get(f"/api/kbs/other/files/{other_file.id}/images/{first}"), 404)
    assert_error(raw.get(f"/api/kbs/nope/files/{file_id}/images/{first}"), 404)
    # a picture whose stored copy is gone: 404 with the reason, not a server error
    for p in (tmp_path / "home" / "kbs").rglob(f"{first}.png"):
        p.unlink()
    err = assert_error(raw.get(f"{base}/{first}"), 404)
    assert "re-ingest" in err["message"]


def test_openai_chat_with_a_picture_goes_to_the_vision_model(with_vision: Served, vision: VisionServer) -> None:
    body = {"model": "eyes", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "What is in it?"},
                                     {"type": "image_url", "image_url": {"url": JPEG_URL}}]}]}
    r = with_vision.raw.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    text = r.json()["choices"][0]["message"]["content"]
    assert picture_caption(PNG) in text and "asked: What is in it?" in text  # the very picture arrived
    streamed = with_vision.raw.post("/v1/chat/completions", json={**body, "stream": True})
    assert streamed.status_code == 200 and streamed.text.rstrip().endswith("data: [DONE]")
    assert picture_caption(PNG)[:8] in streamed.text
    # a chat model that takes no pictures is refused, not asked without the picture
    err = assert_error(with_vision.raw.post("/v1/chat/completions", json={**body, "model": "words"}), 400)
    assert err["param"] == "model" and "does not take pictures" in err["message"]
    # only data: URLs: zhiku fetches nothing
    remote = {"model": "eyes", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://127.0.0.1:1/x.png"}}]}]}
    err = assert_error(with_vision.raw.post("/v1/chat/completions", json=remote), 400)
    assert "data: URL" in err["message"]
    fake = {"model": "eyes", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(b"GIF89a").decode()}}]}]}
    assert_error(with_vision.raw.post("/v1/chat/completions", json=fake), 400)
    assert len(vision.requests) == 2  # the refused ones never reached the model


def test_a_kb_model_with_a_picture_gives_the_vision_model_its_passages(
        with_vision: Served, vision: VisionServer, tmp_path: Path) -> None:
    _kb_with_pictures(with_vision, tmp_path)
    caption = picture_caption(drawing(1))
    body = {"model": "kb:pics", "messages": [{"role": "user", "content": [
        {"type": "text", "text": caption.split(" of ")[0]}, {"type": "image_url", "image_url": {"url": JPEG_URL}}]}]}
    r = with_vision.raw.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    assert picture_caption(PNG) in r.json()["choices"][0]["message"]["content"]
    assert any(c["images"] for c in r.json()["citations"])
    system = vision.requests[-1]["messages"][0]["content"]
    assert caption in system  # the KB's passage about the stored picture went along


def test_api_chat_with_a_picture(with_vision: Served, vision: VisionServer) -> None:
    reply = with_vision.client.ask_with_pictures("llm", "Describe it", [PNG])
    assert picture_caption(PNG) in reply.content and reply.model == "eyes"
    r = with_vision.raw.post("/api/chat", json={"mode": "llm", "stream": True, "images": [JPEG_URL],
                                                "messages": [{"role": "user", "content": "Describe it"}]})
    assert r.status_code == 200 and picture_caption(PNG)[:8] in r.text
    err = assert_error(with_vision.raw.post("/api/chat", json={
        "mode": "search", "images": [JPEG_URL], "messages": [{"role": "user", "content": "x"}]}), 400)
    assert "llm and kb mode" in err["message"]
    err = assert_error(with_vision.raw.post("/api/chat", json={
        "mode": "kb", "kbs": ["*"], "images": [JPEG_URL], "messages": [{"role": "user", "content": "x"}]}), 400)
    assert err["details"].get("param") == "kbs" or "name its knowledge bases" in err["message"]


def test_without_a_vision_model_a_picture_is_refused_with_the_reason(without_vision: Served) -> None:
    body = {"model": "kb:pics", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is it"}, {"type": "image_url", "image_url": {"url": JPEG_URL}}]}]}
    without_vision.zk.create_kb("pics")
    err = assert_error(without_vision.raw.post("/v1/chat/completions", json=body), 400)
    assert err["code"] == "no_vision_model" and "vision_model" in err["message"]
    err = assert_error(without_vision.raw.post("/api/chat", json={
        "mode": "llm", "images": [JPEG_URL], "messages": [{"role": "user", "content": "what is it"}]}), 400)
    assert "no vision model is configured" in err["message"]
    with pytest.raises(ZhikuError, match="no vision model"):
        without_vision.client.ask_with_pictures("kb", "what is it", [PNG], kbs=["pics"])
