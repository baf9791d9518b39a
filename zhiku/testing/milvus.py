"""milvus-lite for tests: Milvus in a local file, from the milvus-lite wheel (no Docker, no server to run).

A milvus-lite file is opened by one process at a time, so a test whose child process writes Milvus
gives the child a file of its own through ``ZHIKU_TEST_MILVUS_URI``; the index types below read it
there (``zhiku.testing.contracts.crash`` makes its indexes by reference to a module attribute).
"""

from __future__ import annotations

import os

from zhiku.store.milvus_indexes import MilvusVectorIndex, MilvusVectorType
from zhiku.store.milvus_lexical import MilvusLexicalIndex, MilvusLexicalType

ENV = "ZHIKU_TEST_MILVUS_URI"


def vector_index_from_env(dimensions: int) -> MilvusVectorIndex:
    """A new ``milvus`` vector index on the Milvus named by ``ZHIKU_TEST_MILVUS_URI``."""
    return MilvusVectorType(os.environ[ENV])(dimensions)


def lexical_index_from_env() -> MilvusLexicalIndex:
    """A new ``milvus_bm25`` lexical index on the Milvus named by ``ZHIKU_TEST_MILVUS_URI``."""
    return MilvusLexicalType(os.environ[ENV])()
