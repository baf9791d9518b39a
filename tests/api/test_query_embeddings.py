"""Retrieval runs once per question on every face: the question is embedded exactly once.

The embedder is a real OpenAI-compatible embedding server on 127.0.0.1 (serving the static
model) configured as the default embedder, and it records every request, so each embedding of
the question is counted where it happens. ``retrieval.query_cache`` is off: a second retrieval
(or an answerer embedding the question again) cannot hide behind a cache hit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
import yaml

from tests.api.conftest import EN, ZH, LiveServer, SyncASGITransport
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.embed.static import StaticEmbedder
from zhiku.testing.llm_servers import ChatServer
from zhiku.testing.openai_server import EmbeddingServer

QUESTION = "入职满一年的员工有几天年假？"


@pytest.fixture(params=[None, "test"], ids=["extractive", "chat-model"])
def setup(request: pytest.FixtureRequest, home: Path,
          tmp_path: Path) -> Iterator[tuple[Zhiku, EmbeddingServer, ChatServer]]:
    """An app whose default embedder is the counting server; answers extractive, or by a chat model."""
    with EmbeddingServer(StaticEmbedder(), model="m") as embeddings, ChatServer(reply="十五天 [1]。") as chat:
        config = {
            "embedding": {"default": "remote", "models": {"remote": {
                "type": "openai", "base_url": embeddings.base_url, "model": "m", "dimensions": 64}}},
            "retrieval": {"query_cache": 0},
            "llm": {"detect_local": False, "default": request.param,
                    "models": {"test": {"base_url": chat.base_url, "model": "ok"}}}}
        home.mkdir(parents=True)
        (home / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")  # the CLI reads it too
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "年假.md").write_text(ZH, encoding="utf-8")
        (docs / "refunds.md").write_text(EN, encoding="utf-8")
        with Zhiku(load_settings(home=home, environ={})) as app:
            app.create_kb("hr")
            assert app.add_files("hr", [docs]).ok
            yield app, embeddings, chat


def _embedded(server: EmbeddingServer) -> int:
    """How many times the server was asked to embed the question."""
    return sum(1 for r in server.requests if r["input"] in (QUESTION, [QUESTION]))


def _faces(raw: httpx.Client) -> dict[str, Callable[[], Any]]:
    turns = [{"role": "user", "content": QUESTION}]

    def conversation() -> Any:
        conv = raw.post("/api/conversations", json={"mode": "kb", "kbs": ["hr"]}).json()
        return raw.post(f"/api/conversations/{conv['id']}/messages", json={"content": QUESTION})

    return {
        "/api/ask": lambda: raw.post("/api/ask", json={"kbs": ["hr"], "question": QUESTION}),
        "/api/ask stream": lambda: raw.post("/api/ask", json={"kbs": ["hr"], "question": QUESTION, "stream": True}),
        "/api/chat": lambda: raw.post("/api/chat", json={"mode": "kb", "kbs": ["hr"], "messages": turns}),
        "/api/chat stream": lambda: raw.post("/api/chat", json={"mode": "kb", "kbs": ["hr"], "messages": turns,
                                                                "stream": True}),
        "conversations": conversation,
        "/v1/chat/completions kb:hr": lambda: raw.post("/v1/chat/completions", json={"model": "kb:hr",
                                                                                     "messages": turns}),
        "/v1/chat/completions kb:hr stream": lambda: raw.post("/v1/chat/completions", json={
            "model": "kb:hr", "messages": turns, "stream": True}),
        "chatchat kb_chat stream": lambda: raw.post("/chat/kb_chat", json={"query": QUESTION, "kb_name": "hr"}),
        "chatchat kb_chat": lambda: raw.post("/chat/kb_chat", json={"query": QUESTION, "kb_name": "hr",
                                                                     "stream": False}),
        "chatchat local_kb completions": lambda: raw.post("/knowledge_base/local_kb/hr/chat/completions", json={
            "model": "any", "messages": turns}),
        "chatchat local_kb completions stream": lambda: raw.post("/knowledge_base/local_kb/hr/chat/completions",
                                                                 json={"model": "any", "messages": turns,
                                                                       "stream": True}),
    }


def test_each_http_face_embeds_the_question_once(setup: tuple[Zhiku, EmbeddingServer, ChatServer]) -> None:
    app, embeddings, chat = setup
    transport = SyncASGITransport(create_app(app))
    counts: dict[str, int] = {}
    try:
        with httpx.Client(base_url="http://zhiku.test", transport=transport) as raw:
            for face, ask in _faces(raw).items():
                before = _embedded(embeddings)
                response = ask()
                assert response.status_code in (200, 201), (face, response.text)
                assert "十五天" in response.text, (face, response.text)  # it answered from the KB
                counts[face] = _embedded(embeddings) - before
    finally:
        transport.close()
    assert counts == {face: 1 for face in counts}, counts
    generated = [face for face in counts if not face.startswith("/api/ask")]  # /api/ask quotes, always
    assert len(chat.requests) == (len(generated) if app.settings.llm.default else 0)


def test_the_cli_embeds_the_question_once(setup: tuple[Zhiku, EmbeddingServer, ChatServer], home: Path,
                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zhiku.cli import main

    app, embeddings, _ = setup
    before = _embedded(embeddings)
    assert main(["--home", str(home), "ask", "hr", QUESTION, "--json"]) == 0
    assert "十五天" in json.loads(capsys.readouterr().out)["answer"]
    assert _embedded(embeddings) - before == 1  # `zhiku ask`, local
    server = LiveServer(app)
    try:
        before = _embedded(embeddings)
        assert main(["--home", str(tmp_path / "cli-home"), "--server", server.url, "ask", "hr", QUESTION,
                     "--json"]) == 0
        assert "十五天" in json.loads(capsys.readouterr().out)["answer"]
        assert _embedded(embeddings) - before == 1  # `zhiku --server URL ask`
    finally:
        server.stop()
