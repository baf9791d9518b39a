"""The built-in index backends (FAISS, BM25) pass the contract suites any backend can subclass,
looked up in the plugin registry by the names the settings use."""

from __future__ import annotations

import pytest

from zhiku.plugins import registry
from zhiku.store.index_protocols import LexicalIndexType, VectorIndexType
from zhiku.testing.contracts import LexicalIndexContract, VectorIndexContract


class TestFaissVectorIndex(VectorIndexContract):
    @pytest.fixture
    def index_type(self) -> VectorIndexType:
        backend: VectorIndexType = registry().get("vector_index", "faiss")
        return backend


class TestBM25Index(LexicalIndexContract):
    @pytest.fixture
    def index_type(self) -> LexicalIndexType:
        backend: LexicalIndexType = registry().get("lexical_index", "bm25")
        return backend
