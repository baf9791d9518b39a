"""The ONNX embedder (``type: onnx``) on tiny BERT- and XLM-R-shaped models the tests build
themselves (zhiku.testing.tiny_onnx): real onnxruntime, real tokenizers, real KBs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the tiny test models are built with the onnx package (test extra)")
pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")

from zhiku import Zhiku, load_settings  # noqa: E402
from zhiku.embed import Embedder  # noqa: E402
from zhiku.embed.onnx import OnnxEmbedder, pool  # noqa: E402
from zhiku.embed.onnx_runtime import load  # noqa: E402
from zhiku.errors import ConfigError  # noqa: E402
from zhiku.config import EmbedderConfig  # noqa: E402
from zhiku.embed import build_embedder as build_configured  # noqa: E402
from zhiku.testing.contracts import EmbedderContract  # noqa: E402
from zhiku.testing.tiny_onnx import build_embedder  # noqa: E402

PASSAGES = ["Annual leave is fifteen days.", "Refunds are paid within fourteen days.", "Jupiter has a red spot.",
            "年假有十五天"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("onnx-models")
    build_embedder(root / "tiny-bge-zh")  # BERT-shaped: token_type_ids; "bge" in the name → CLS
    build_embedder(root / "tiny-xlmr", token_types=False)  # XLM-R-shaped: no token_type_ids → mean
    return root


@pytest.mark.parametrize("name,pooling,tokens", [("tiny-bge-zh", "cls", 64), ("tiny-xlmr", "mean", 62)])
def test_follows_the_protocol_and_pools_per_family(models: Path, name: str, pooling: str, tokens: int) -> None:
    emb = OnnxEmbedder(str(models / name), batch_size=2)
    assert isinstance(emb, Embedder) and emb.pooling == pooling and emb.dimensions == 128
    assert emb.model_id.startswith(f"onnx:{name}:") and emb.model_id.endswith(f":{pooling}:{tokens}")
    assert load(str(models / name), "test").max_length == tokens  # 64 positions; XLM-R keeps 2 for its offset
    vecs = emb.embed_passages(PASSAGES)
    assert vecs.shape == (4, 128) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # the same vectors whatever the batch a text lands in (padding is masked out)
    for i, text in enumerate(PASSAGES):
        assert np.allclose(emb.embed_passages([text])[0], vecs[i], atol=1e-5)
    # the pooling is the one claimed, computed here from the graph's own token vectors
    model = load(str(models / name), "test")
    feed = model.encode([PASSAGES[0]])
    hidden = model.run(feed)["last_hidden_state"]
    expected = hidden[0, 0] if pooling == "cls" else hidden[0].mean(axis=0)
    assert np.allclose(vecs[0], expected / np.linalg.norm(expected), atol=1e-5)
    # a text longer than the model reads is cut at max_length tokens ([CLS] and [SEP] included)
    head = " ".join(["jupiter", "red"] * 40).split()[: tokens - 2]
    long = " ".join(head + ["refunds", "paid"] * 100)  # the tail is past the cut: it changes nothing
    assert np.allclose(emb.embed_passages([long])[0], emb.embed_passages([" ".join(head)])[0], atol=1e-5)
    q = emb.embed_query("how many days of annual leave")
    assert q.shape == (128,) and int(np.argmax(vecs @ q)) == 0


def test_weights_in_an_external_file_are_read(models: Path, tmp_path: Path) -> None:
    folder = build_embedder(tmp_path / "tiny-xlmr", token_types=False, external=True)  # the same weights
    assert (folder / "onnx" / "model.onnx_data").is_file()
    assert (folder / "onnx" / "model.onnx").stat().st_size < (folder / "onnx" / "model.onnx_data").stat().st_size
    inline, external = OnnxEmbedder(str(models / "tiny-xlmr")), OnnxEmbedder(str(folder))
    assert np.allclose(inline.embed_passages(PASSAGES), external.embed_passages(PASSAGES), atol=1e-6)


def test_mean_pooling_ignores_padding() -> None:
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert np.allclose(pool(hidden, mask, "mean"), [[2.0, 0.0]]) and np.allclose(pool(hidden, mask, "cls"), [[1, 0]])


def test_pooling_prefixes_and_graph_come_from_the_folder(tmp_path: Path) -> None:
    folder = build_embedder(tmp_path / "bge-custom")
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    assert OnnxEmbedder(str(folder)).pooling == "mean"  # sentence-transformers' word beats the name
    build_embedder(folder, file="onnx/model_quantized.onnx", seed=7)  # an int8 variant is preferred
    (folder / "zhiku-onnx.json").write_text(json.dumps({"pooling": "cls", "query_prefix": "annual leave ",
                                                        "score_range": [0.2, 0.8]}))
    emb = OnnxEmbedder(str(folder))
    assert emb.pooling == "cls" and emb.score_range == (0.2, 0.8)
    (folder / "zhiku-onnx.json").write_text(json.dumps({"pooling": "cls", "passage_prefix": "passage: "}))
    assert OnnxEmbedder(str(folder)).model_id != emb.model_id  # another prefix: other vectors, another cache key
    (folder / "zhiku-onnx.json").write_text(json.dumps({"pooling": "cls", "query_prefix": "annual leave ",
                                                        "score_range": [0.2, 0.8]}))
    assert load(str(folder), "test").folder.onnx_file.name == "model_quantized.onnx"
    # the query prefix is read with every question, not with passages
    assert np.allclose(emb.embed_query("jupiter"), emb.embed_passages(["annual leave jupiter"])[0], atol=1e-5)
    (folder / "zhiku-onnx.json").write_text(json.dumps({"pooling": "max"}))
    with pytest.raises(ConfigError, match="pooling 'max'"):
        OnnxEmbedder(str(folder))


def test_a_wrong_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs the folder"):
        OnnxEmbedder(None)
    with pytest.raises(ConfigError, match="not a folder"):
        OnnxEmbedder(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no ONNX graph"):
        OnnxEmbedder(str(tmp_path / "empty"))
    folder = build_embedder(tmp_path / "no-tokenizer")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ConfigError, match="no tokenizer.json"):
        OnnxEmbedder(str(folder))
    broken = build_embedder(tmp_path / "broken")
    (broken / "onnx" / "model.onnx").write_bytes(b"not a graph")
    with pytest.raises(ConfigError, match="not an ONNX graph"):
        OnnxEmbedder(str(broken))


def test_a_kb_built_with_the_onnx_embedder_answers_searches(models: Path, tmp_path: Path) -> None:
    config = {"embedding": {"models": {"tiny": {"type": "onnx", "model": str(models / "tiny-bge-zh"),
                                                "batch_size": 2}}}}
    with Zhiku(load_settings(home=tmp_path / "h", overrides=config)) as app:
        kb = app.create_kb("onnx-kb", embedder="tiny")
        assert kb.embedder == "tiny" and kb.dimensions == 128
        docs = tmp_path / "d"
        docs.mkdir()
        for i, text in enumerate(PASSAGES):
            (docs / f"{i}.md").write_text(text)
        assert app.add_files("onnx-kb", [docs]).ok
        hits = app.search(["onnx-kb"], "refunds paid within how many days", mode="dense")
        assert hits and "Refunds" in hits[0].text
        hits = app.search(["onnx-kb"], "jupiter red spot", mode="dense")
        assert hits and "Jupiter" in hits[0].text


class TestOnnxEmbedderContract(EmbedderContract):
    """The contract every embedder passes, on the tiny XLM-R-shaped model, built from settings."""

    @pytest.fixture
    def embedder(self, models: Path) -> Embedder:
        return build_configured(EmbedderConfig(type="onnx", model=str(models / "tiny-xlmr"), batch_size=8))
