"""The contract of an embedder (``zhiku.embed.base.Embedder``).

Subclass ``EmbedderContract`` and provide the ``embedder`` fixture (a built instance).
"""

from __future__ import annotations

import numpy as np
import pytest

from zhiku.embed.base import Embedder

TEXTS = ["年假天数按工龄计算", "The refund policy allows returns within 30 days.", "报销需要发票", "x"]


class EmbedderContract:
    many = 100  # passages in one call of the "many texts" test (a slow model may ask for fewer)
    long_chars = 10_000  # characters of the long passage (zhiku's chunks stay near ingest.chunk_size)

    @pytest.fixture
    def embedder(self) -> Embedder:
        raise NotImplementedError("a subclass provides the embedder under test as the embedder fixture")

    def test_implements_the_protocol(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert isinstance(embedder.model_id, str) and embedder.model_id
        assert isinstance(embedder.dimensions, int) and embedder.dimensions > 0
        low, high = embedder.score_range
        assert -1.0 <= low < high <= 1.0

    def test_passages_are_unit_float32_rows(self, embedder: Embedder) -> None:
        vecs = embedder.embed_passages(TEXTS)
        assert vecs.shape == (len(TEXTS), embedder.dimensions) and vecs.dtype == np.float32
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)

    def test_a_query_is_one_unit_vector(self, embedder: Embedder) -> None:
        vec = embedder.embed_query("年假怎么算")
        assert vec.shape == (embedder.dimensions,) and vec.dtype == np.float32
        assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-3)

    def test_no_passages_give_an_empty_matrix(self, embedder: Embedder) -> None:
        vecs = embedder.embed_passages([])
        assert vecs.shape == (0, embedder.dimensions)

    def test_the_same_text_gives_the_same_vector(self, embedder: Embedder) -> None:
        first, again = embedder.embed_passages(TEXTS[:2]), embedder.embed_passages(TEXTS[:2])
        assert np.allclose(first, again, atol=1e-5)
        batched = embedder.embed_passages(TEXTS)  # batching does not change a passage's vector
        assert np.allclose(batched[:2], first, atol=1e-3)

    def test_long_texts_and_many_of_them(self, embedder: Embedder) -> None:
        vecs = embedder.embed_passages(["年假" * (self.long_chars // 2), *(f"passage {i}" for i in range(self.many))])
        assert vecs.shape == (self.many + 1, embedder.dimensions) and np.isfinite(vecs).all()
