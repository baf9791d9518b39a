"""The ONNX cross-encoder reranker (``retrieval.rerank: onnx``) on a tiny cross-encoder the tests
build themselves (zhiku.testing.tiny_onnx: its logit is the overlap of the question's and the
passage's mean word vectors): real onnxruntime, real tokenizers, a real KB."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the tiny test models are built with the onnx package (test extra)")
pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

from zhiku import Zhiku, load_settings  # noqa: E402
from zhiku.errors import ConfigError, InvalidInput  # noqa: E402
from zhiku.retrieval.fusion import Candidate  # noqa: E402
from zhiku.retrieval.rerank import build_reranker, rerank  # noqa: E402
from zhiku.retrieval.rerank_onnx import OnnxReranker  # noqa: E402
from zhiku.testing.tiny_onnx import build_reranker as build_tiny_reranker  # noqa: E402

TEXTS = {"a.txt": "Jupiter is a planet.", "b.txt": "The red spot of Jupiter is a planet.",
         "c.txt": "Refunds are paid within fourteen days.", "d.txt": "Shipping takes two days."}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_reranker(tmp_path_factory.mktemp("onnx-rr") / "tiny-reranker")


def _candidate(chunk_id: int, score: float) -> Candidate[tuple[str, int]]:
    return Candidate(key=("kb", chunk_id), score=score)


def test_scores_pairs_in_batches_and_reorders(model: Path) -> None:
    reranker = OnnxReranker(str(model), batch_size=2)
    texts = list(TEXTS.values())
    scores = reranker.scores("jupiter red spot", [], texts)
    assert len(scores) == 4 and int(np.argmax(scores)) == 1  # the passage with all three words
    assert scores == pytest.approx(OnnxReranker(str(model), batch_size=8).scores("jupiter red spot", [], texts),
                                   abs=1e-5)  # padding within a batch changes nothing
    ranked = [_candidate(i, s) for i, s in enumerate((0.9, 0.8, 0.7, 0.6))]  # fused order: a, b, c, d
    out = rerank(reranker, "jupiter red spot", ranked, texts)
    assert [c.key[1] for c in out][:2] == [1, 0]  # b moves above a
    assert [c.score for c in out] == [0.9, 0.8, 0.7, 0.6]  # positions keep the fused scores
    assert out[0].extra["fused_score"] == 0.8


def test_built_by_name_and_a_missing_model_is_a_config_error(model: Path, tmp_path: Path) -> None:
    assert isinstance(build_reranker("onnx", model=str(model)), OnnxReranker)
    with pytest.raises(ConfigError, match="rerank_model"):
        build_reranker("onnx")
    with pytest.raises(ConfigError, match="not a folder"):
        build_reranker("onnx", model=str(tmp_path / "nowhere"))
    with pytest.raises(InvalidInput, match="onnx"):  # an unknown name lists onnx among the choices
        build_reranker("colbert")


def test_search_reranks_per_question_with_the_onnx_cross_encoder(model: Path, home: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in TEXTS.items():
        (docs / name).write_text(text, encoding="utf-8")
    overrides = {"embedding": {"default": "static"}, "retrieval": {"rerank_model": str(model)}}
    with Zhiku(load_settings(home=home, overrides=overrides)) as app:
        app.create_kb("mixed")
        assert app.add_files("mixed", [docs]).ok
        kb = app.kb("mixed")
        plain = app.retriever.search([kb], "jupiter days", 4, rerank="none")  # the setting: none
        hits = app.retriever.search([kb], "jupiter days", 4, rerank="onnx")  # this question: onnx
    assert sorted(h.chunk_id for h in hits) == sorted(h.chunk_id for h in plain)
    assert [h.score for h in hits] == [h.score for h in plain]
    expected = OnnxReranker(str(model)).scores("jupiter days", [], [h.text for h in hits])
    assert expected == sorted(expected, reverse=True)  # hits come in the cross-encoder's order
    assert [h.file for h in hits] != [h.file for h in plain] and hits[0].file == "docs/a.txt"


def test_the_api_takes_the_reranker_per_request(model: Path, home: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from zhiku.api import create_app

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in TEXTS.items():
        (docs / name).write_text(text, encoding="utf-8")
    overrides = {"embedding": {"default": "static"}, "retrieval": {"rerank": "none", "rerank_model": str(model)}}
    with Zhiku(load_settings(home=home, overrides=overrides, environ={})) as app:
        app.create_kb("mixed")
        assert app.add_files("mixed", [docs]).ok
        with TestClient(create_app(app)) as http:
            body = {"kbs": ["mixed"], "query": "jupiter days", "top_k": 4}
            plain = http.post("/api/search", json=body).json()
            reranked = http.post("/api/search", json={**body, "rerank": "onnx"}).json()
            wrong = http.post("/api/search", json={**body, "rerank": "colbert"})
            ask = {"kbs": ["mixed"], "question": "What is Jupiter?"}
            asked = http.post("/api/ask", json={**ask, "rerank": "onnx"})
            asked_wrong = http.post("/api/ask", json={**ask, "rerank": "colbert"})
    assert [h["score"] for h in reranked] == [h["score"] for h in plain]
    expected = OnnxReranker(str(model)).scores("jupiter days", [], [h["text"] for h in reranked])
    assert expected == sorted(expected, reverse=True) and reranked[0]["file"] == "docs/a.txt"
    assert [h["file"] for h in reranked] != [h["file"] for h in plain]
    assert wrong.status_code == 400 and "unknown reranker 'colbert'" in wrong.text and "onnx" in wrong.text
    assert asked.status_code == 200, asked.text
    assert asked.json()["citations"][0]["file"] in ("docs/a.txt", "docs/b.txt")
    assert asked_wrong.status_code == 400 and "unknown reranker 'colbert'" in asked_wrong.text


def test_cli_search_takes_the_reranker(cli, model: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in TEXTS.items():
        (docs / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("ZHIKU_RETRIEVAL__RERANK_MODEL", str(model))
    assert cli("kb", "create", "mixed").code == 0
    assert cli("kb", "add", "mixed", str(docs)).code == 0
    plain = json.loads(cli("search", "mixed", "jupiter days", "-k", "4", "--json").out)
    reranked = json.loads(cli("search", "mixed", "jupiter days", "-k", "4", "--rerank", "onnx", "--json").out)
    assert [h["file"] for h in reranked] != [h["file"] for h in plain] and reranked[0]["file"] == "docs/a.txt"
    wrong = cli("search", "mixed", "jupiter days", "--rerank", "colbert")
    assert wrong.code != 0 and "unknown reranker 'colbert'" in wrong.err
