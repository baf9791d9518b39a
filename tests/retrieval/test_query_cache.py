"""A question asked again, or searched and then answered, is embedded once."""

from __future__ import annotations

from pathlib import Path

from zhiku import Zhiku, load_settings
from zhiku.embed.static import StaticEmbedder
from zhiku.testing.openai_server import EmbeddingServer
from zhiku.schema import AnswerRequest


def _embedded(server: EmbeddingServer, text: str) -> int:
    """How many requests asked the embedding server for exactly this text."""
    return sum(1 for r in server.requests if r["input"] in (text, [text]))


def _app(home: Path, url: str, cache: int) -> Zhiku:
    config = {"embedding": {"default": "remote", "models": {"remote": {
        "type": "openai", "base_url": url, "model": "m", "dimensions": 64}}},
        "retrieval": {"query_cache": cache}}
    return Zhiku(load_settings(home=home, overrides=config))


def test_repeated_questions_skip_the_query_embedding(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# 假期\n\n入职满一年的员工享有十五天带薪年假。\n\nRefunds are paid within 14 days.\n",
                                   encoding="utf-8")
    question = "年假有几天"
    with EmbeddingServer(StaticEmbedder(), model="m") as server:
        with _app(tmp_path / "cached", server.base_url, 256) as app:
            app.create_kb("kb")
            assert app.add_files("kb", [docs]).ok
            first = app.search(["kb"], question)
            assert app.search(["kb"], question) == first
            # search + extractive answer: the same vector again
            answer = app.answer(AnswerRequest(mode="kb", kbs=["kb"], question=question, extractive=True))
            assert answer.found and "十五天" in answer.answer
            assert _embedded(server, question) == 1
            app.search(["kb"], "Refunds")
            assert _embedded(server, "Refunds") == 1
        with _app(tmp_path / "uncached", server.base_url, 0) as app:
            app.create_kb("kb")
            assert app.add_files("kb", [docs]).ok
            before = _embedded(server, question)
            app.search(["kb"], question)
            app.search(["kb"], question)
            assert _embedded(server, question) - before == 2
