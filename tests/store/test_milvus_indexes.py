"""The Milvus backends (milvus, milvus_bm25) pass the same contract suites as faiss and bm25, on
milvus-lite (a Milvus in a local file, started by the test itself). A milvus-lite file has one
opener at a time, so the crash tests give the killed process a file of its own and open it after."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from zhiku.store.index_protocols import LexicalIndexType, VectorIndexType
from zhiku.store.lexical import BM25Index
from zhiku.store.milvus_indexes import MilvusVectorType, close_client, term_word
from zhiku.store.milvus_lexical import MilvusLexicalType
from zhiku.testing.contracts import LexicalIndexContract, VectorIndexContract
from zhiku.testing.contracts.crash import kill_during_saves, lexical_states, vector_states
from zhiku.testing.milvus import ENV, lexical_index_from_env, vector_index_from_env


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    uri = str(tmp_path_factory.mktemp("milvus") / "milvus.db")
    yield uri
    close_client(uri)


class TestMilvusVectorIndex(VectorIndexContract):
    huge = 20_000

    @pytest.fixture
    def index_type(self, milvus_uri: str) -> VectorIndexType:
        return MilvusVectorType(milvus_uri)

    @pytest.mark.parametrize("delay_s", [0.0, 0.2])
    def test_a_crash_during_save_leaves_a_whole_index(  # type: ignore[override]
        self, tmp_path: Path, delay_s: float, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        uri = str(tmp_path / "child.db")
        monkeypatch.setenv(ENV, uri)
        path = tmp_path / "vectors"
        kill_during_saves("vector", vector_index_from_env, path, self.dimensions, delay_s)
        try:
            loaded = MilvusVectorType(uri).load(path, self.dimensions)
            held = set(loaded.ids().tolist())
            match = [s for s in vector_states(self.dimensions) if held == set(s[0].tolist())]
            assert match, f"after a crash the index holds {len(held)} ids, neither state A nor B"
            ids, vecs = match[0]
            assert loaded.search(vecs[17], 1)[0][0] == ids[17]
        finally:
            close_client(uri)


class TestMilvusLexicalIndex(LexicalIndexContract):
    huge_docs = 15_000  # Milvus returns at most 16384 hits and the suite asks for all of them
    long_doc = 50_000

    @pytest.fixture
    def index_type(self, milvus_uri: str) -> LexicalIndexType:
        return MilvusLexicalType(milvus_uri)

    @pytest.mark.parametrize("delay_s", [0.0, 0.2])
    def test_a_crash_during_save_leaves_a_whole_index(  # type: ignore[override]
        self, tmp_path: Path, delay_s: float, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        uri = str(tmp_path / "child.db")
        monkeypatch.setenv(ENV, uri)
        path = tmp_path / "lexical"
        kill_during_saves("lexical", lexical_index_from_env, path, 0, delay_s)
        try:
            loaded = MilvusLexicalType(uri).load(path)
            held = set(loaded.ids().tolist())
            match = [s for s in lexical_states() if held == set(s[0])]
            assert match, f"after a crash the index holds {len(held)} ids, neither state A nor B"
            ids, tokens = match[0]
            assert loaded.search([tokens[17][3]], 1)[0][0] == ids[17]
        finally:
            close_client(uri)

    def test_ranking_and_coverage_follow_the_built_in_bm25(self, index_type: LexicalIndexType) -> None:
        """Milvus scores zhiku's own tokens with BM25: the same documents in the same order as the
        built-in bm25, and the same coverage (per-KB IDF counted in Milvus)."""
        docs = {i: [f"w{i % 7}", f"w{i % 11}", "common", *([f"r{i}"] * (i % 3 + 1))] for i in range(300)}
        ours, builtin = index_type(), BM25Index()
        for index in (ours, builtin):
            index.add(list(docs), list(docs.values()))
            index.remove([3, 4])
        for query in (["w1", "common"], ["r10", "w3", "missing"], ["w2", "w5", "r77"]):
            got, want = ours.search(query, 10), builtin.search(query, 10)
            assert [i for i, _, _ in got] == [i for i, _, _ in want]
            assert np.allclose([c for _, _, c in got], [c for _, _, c in want])

    def test_chinese_tokens_are_matched_whole(self, index_type: LexicalIndexType) -> None:
        """Milvus's analyser never splits zhiku's jieba words: 年假 does not find 年 or 假期."""
        index = index_type()
        index.add([1, 2, 3], [["年假", "天数"], ["年", "报告"], ["假期", "安排"]])
        assert [i for i, _, _ in index.search(["年假"], 5)] == [1]
        assert term_word("年假") != term_word("年") and len(term_word("年假")) == 17


def test_a_milvus_lite_file_another_process_holds_is_one_readable_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    from zhiku.errors import Unavailable
    from zhiku.store.milvus_indexes import client

    uri = str(tmp_path / "held.db")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pymilvus import MilvusClient; "
                               f"MilvusClient({uri!r}); print('open', flush=True); time.sleep(120)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(Unavailable, match="cannot open Milvus at .*held.db.*one process at a time"):
            client(uri)
    finally:
        holder.kill()
        holder.wait()
