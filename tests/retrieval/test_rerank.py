"""The rerank stage: the built-in coverage reranker, and a user's cross-encoder over HTTP."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from zhiku import Zhiku, load_settings
from zhiku.errors import InvalidInput, Unavailable
from zhiku.retrieval.fusion import Candidate
from zhiku.retrieval.rerank import CoverageReranker, build_reranker, rerank
from zhiku.testing.http import BackgroundHTTPServer


def test_coverage_moves_the_passage_holding_every_rare_term_up() -> None:
    repeats = Candidate(key=("kb", 1), score=0.9)
    repeats.lexical = 0.3  # one of the question's words, many times: strong BM25
    covers = Candidate(key=("kb", 2), score=0.8)
    covers.lexical = 1.0  # every distinctive word of the question once
    out = rerank(CoverageReranker(0.5), "q", [repeats, covers], ["", ""])
    assert [c.key[1] for c in out] == [2, 1]
    # positions keep their scores: still in [0, 1] and decreasing down the list
    assert [c.score for c in out] == [0.9, 0.8]
    assert out[0].extra["fused_score"] == 0.8


def test_unknown_reranker_and_http_without_url_are_refused() -> None:
    assert build_reranker("none") is None
    with pytest.raises(InvalidInput, match="unknown reranker"):
        build_reranker("colbert")
    with pytest.raises(InvalidInput, match="rerank_base_url"):
        build_reranker("http")


class RerankServer(BackgroundHTTPServer):
    """Speaks the Jina/Cohere ``/rerank`` protocol: scores a document by how many times it
    contains ``word`` (a stand-in for a cross-encoder); ``fail`` answers 500."""

    def __init__(self, word: str, fail: bool = False) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                if fail:
                    payload, code = b'{"error": "model not loaded"}', 500
                else:
                    results = [{"index": i, "relevance_score": d.count(word) / 10}
                               for i, d in enumerate(body["documents"])]
                    results.sort(key=lambda r: -r["relevance_score"])
                    payload, code = json.dumps({"results": results[: body["top_n"]]}).encode(), 200
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        super().__init__(Handler)


@pytest.fixture
def kb_home(home: Path, tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("长城是中国古代的军事防御工程。长城很长。", encoding="utf-8")
    (docs / "b.txt").write_text("故宫位于北京，是明清两代的皇宫。", encoding="utf-8")
    (docs / "c.txt").write_text("长城和故宫都是世界文化遗产，故宫每年接待游客，故宫故宫。", encoding="utf-8")
    with Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}})) as app:
        app.create_kb("sights")
        assert app.add_files("sights", [docs]).ok
    return home


def test_http_reranker_orders_hits_as_the_cross_encoder_says(kb_home: Path) -> None:
    with RerankServer("故宫") as server:
        overrides = {"retrieval": {"rerank": "http", "rerank_base_url": f"http://127.0.0.1:{server.port}/v1",
                                   "rerank_model": "bge-reranker-v2-m3", "rerank_api_key": "sk-test"}}
        with Zhiku(load_settings(home=kb_home, overrides=overrides)) as app:
            plain = app.retriever.search([app.kb("sights")], "长城", 3, rerank="none")
            hits = app.search(["sights"], "长城", top_k=3)
    assert hits[0].file == "docs/c.txt"  # most 故宫, so the "cross-encoder" puts it first
    assert sorted(h.chunk_id for h in hits) == sorted(h.chunk_id for h in plain)
    assert [h.score for h in hits] == sorted((h.score for h in plain), reverse=True)
    req = server.requests[0]
    assert req["path"] == "/v1/rerank" and req["query"] == "长城" and req["model"] == "bge-reranker-v2-m3"
    assert req["auth"] == "Bearer sk-test" and len(req["documents"]) == 3


def test_a_failing_reranker_is_a_clear_error(kb_home: Path) -> None:
    with RerankServer("故宫", fail=True) as server:
        overrides = {"retrieval": {"rerank": "http", "rerank_base_url": f"http://127.0.0.1:{server.port}"}}
        with Zhiku(load_settings(home=kb_home, overrides=overrides)) as app, \
                pytest.raises(Unavailable, match="HTTP 500"):
            app.search(["sights"], "长城")


def test_coverage_rerank_through_search_keeps_the_hits_and_their_scores(kb_home: Path) -> None:
    with Zhiku(load_settings(home=kb_home, overrides={"retrieval": {"rerank": "coverage"}})) as app:
        kb = app.kb("sights")
        plain = app.retriever.search([kb], "长城 军事 防御", 3, rerank="none")
        reranked = app.search(["sights"], "长城 军事 防御", top_k=3)
    assert reranked[0].file == "docs/a.txt"  # the only passage with all three words
    assert sorted(h.chunk_id for h in reranked) == sorted(h.chunk_id for h in plain)
    assert [h.score for h in reranked] == [h.score for h in plain]
