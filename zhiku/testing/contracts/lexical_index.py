"""The contract of a lexical index backend (``zhiku.store.index_protocols.LexicalIndex``).

Subclass ``LexicalIndexContract`` and provide the ``index_type`` fixture: the backend as the
registry holds it (``index_type()`` makes an empty index, ``index_type.load(path)`` opens a saved
one). The suite asks only what any keyword score honours: documents sharing no query term are
never found, a document holding a rare query term outranks ones that do not, coverage is a share.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from zhiku.store.index_protocols import LexicalIndex, LexicalIndexType
from zhiku.testing.contracts.concurrency import readers_beside_writer
from zhiku.testing.contracts.crash import kill_during_saves, lexical_states

DOCS: dict[int, list[str]] = {
    1: ["年假", "天数", "按", "工龄", "计算"],
    2: ["报销", "流程", "需要", "发票"],
    3: ["年假", "申请", "需要", "审批"],
    4: ["refund", "policy", "within", "30", "days"],
    5: ["the", "policy", "on", "annual", "leave"],
    6: ["the", "the", "the", "refund"],
}


def ids_of(hits: list[tuple[int, float, float]]) -> list[int]:
    return [i for i, _, _ in hits]


class LexicalIndexContract:
    huge_docs = 20_000  # documents in the "huge batch" test
    long_doc = 200_000  # tokens in the "very long token list" test

    @pytest.fixture
    def index_type(self) -> LexicalIndexType:
        raise NotImplementedError("a subclass provides the backend under test as the index_type fixture")

    def filled(self, index_type: LexicalIndexType, docs: dict[int, list[str]] = DOCS) -> LexicalIndex:
        index = index_type()
        index.add(list(docs), list(docs.values()))
        return index

    # -- the protocol ------------------------------------------------------------------------
    def test_implements_the_protocol(self, index_type: LexicalIndexType) -> None:
        assert isinstance(index_type(), LexicalIndex)

    # -- empty inputs -----------------------------------------------------------------------
    def test_an_empty_index_finds_nothing(self, index_type: LexicalIndexType) -> None:
        index = index_type()
        assert len(index) == 0 and index.ids().size == 0
        assert index.search(["年假"], 5) == []
        assert index.search(["年假"], 5, np.array([1], dtype=np.int64)) == []

    def test_empty_add_remove_and_query_change_nothing(self, index_type: LexicalIndexType) -> None:
        index = self.filled(index_type)
        index.add([], [])
        index.remove([])
        assert len(index) == len(DOCS)
        assert index.search([], 5) == []
        assert index.search(["年假"], 0) == []
        assert index.search(["年假"], 5, np.zeros(0, dtype=np.int64)) == []

    def test_an_empty_token_list_is_held_but_never_found(self, index_type: LexicalIndexType) -> None:
        index = self.filled(index_type, {**DOCS, 9: []})
        assert 9 in index.ids().tolist()
        assert 9 not in ids_of(index.search(["年假", "the", "refund"], 20))

    # -- add, search, remove ----------------------------------------------------------------
    def test_only_documents_sharing_a_term_are_found(self, index_type: LexicalIndexType) -> None:
        index = self.filled(index_type)
        assert sorted(index.ids().tolist()) == sorted(DOCS)
        assert set(ids_of(index.search(["年假"], 10))) == {1, 3}
        assert index.search(["unknown-term"], 10) == []
        for _, score, coverage in index.search(["年假", "工龄", "policy"], 10):
            assert score > 0 and 0.0 <= coverage <= 1.0

    def test_a_rare_term_ranks_first_and_results_are_best_first(self, index_type: LexicalIndexType) -> None:
        index = self.filled(index_type)
        hits = index.search(["年假", "工龄"], 10)
        assert hits[0][0] == 1  # the only one holding both terms
        scores = [s for _, s, _ in hits]
        assert scores == sorted(scores, reverse=True)
        full = index.search(["年假", "工龄"], 10, np.array([1], dtype=np.int64))
        assert full[0][2] == pytest.approx(1.0)  # doc 1 holds every query term: full coverage
        assert len(index.search(["the", "policy", "refund"], 2)) == 2

    def test_adding_an_id_again_replaces_its_tokens(self, index_type: LexicalIndexType) -> None:
        index = self.filled(index_type)
        index.add([2], [["全新", "内容"]])
        assert len(index) == len(DOCS)
        assert ids_of(index.search(["全新"], 5)) == [2]
        assert 2 not in ids_of(index.search(["报销"], 5))
        index.add([7, 7], [["first"], ["second"]])  # within one call, the last copy wins
        assert ids_of(index.search(["second"], 5)) == [7] and index.search(["first"], 5) == []

    def test_removed_ids_are_never_found(self, index_type: LexicalIndexType) -> None:
        index = self.filled(index_type)
        index.remove([1, 999])  # 999: unknown, ignored
        assert len(index) == len(DOCS) - 1 and 1 not in index.ids().tolist()
        assert ids_of(index.search(["年假"], 10)) == [3]
        assert index.search(["工龄"], 10) == []

    def test_search_only_among_allowed_ids(self, index_type: LexicalIndexType) -> None:
        docs = {i: ["common", f"w{i % 5}", f"u{i}"] for i in range(500)}
        index = self.filled(index_type, docs)
        rng = random.Random(3)
        for _ in range(5):
            allowed = np.array(sorted(rng.sample(range(500), 30)) + [9999], dtype=np.int64)
            hits = index.search(["common", "w1"], 50, allowed)
            assert hits and set(ids_of(hits)) <= set(allowed.tolist())
            assert len(hits) == 30
        assert ids_of(index.search(["u42", "common"], 10, np.array([42], dtype=np.int64))) == [42]

    # -- persistence ------------------------------------------------------------------------
    def test_survives_a_restart(self, index_type: LexicalIndexType, tmp_path: Path) -> None:
        index = self.filled(index_type)
        index.remove([6])
        queries = (["年假", "工龄"], ["the", "policy"], ["报销"])
        before = [index.search(q, 5) for q in queries]
        index.save(tmp_path / "lexical")
        index.close()
        loaded = index_type.load(tmp_path / "lexical")
        assert sorted(loaded.ids().tolist()) == [1, 2, 3, 4, 5]
        for q, b in zip(queries, before):
            a = loaded.search(q, 5)
            assert ids_of(a) == ids_of(b)
            assert np.allclose([s for _, s, _ in a], [s for _, s, _ in b])
        loaded.add([8], [["年假", "新"]])  # a loaded index takes writes
        assert 8 in ids_of(loaded.search(["新"], 5))
        loaded.close()

    def test_an_empty_index_survives_a_restart(self, index_type: LexicalIndexType, tmp_path: Path) -> None:
        index_type().save(tmp_path / "lexical")
        loaded = index_type.load(tmp_path / "lexical")
        assert len(loaded) == 0 and loaded.search(["年假"], 5) == []

    def test_a_later_save_replaces_an_earlier_one(self, index_type: LexicalIndexType, tmp_path: Path) -> None:
        path = tmp_path / "lexical"
        self.filled(index_type).save(path)
        second = index_type()
        second.add([40], [["only"]])
        second.save(path)
        loaded = index_type.load(path)
        assert loaded.ids().tolist() == [40] and loaded.search(["年假"], 5) == []

    def test_loading_where_nothing_was_saved_is_file_not_found(
        self, index_type: LexicalIndexType, tmp_path: Path
    ) -> None:
        with pytest.raises(FileNotFoundError):
            index_type.load(tmp_path / "never-saved")

    @pytest.mark.parametrize("delay_s", [0.0, 0.03, 0.2])
    def test_a_crash_during_save_leaves_a_whole_index(
        self, index_type: LexicalIndexType, tmp_path: Path, delay_s: float
    ) -> None:
        path = tmp_path / "lexical"
        kill_during_saves("lexical", index_type, path, 0, delay_s)
        loaded = index_type.load(path)
        held = set(loaded.ids().tolist())
        match = [s for s in lexical_states() if held == set(s[0])]
        assert match, f"after a crash the index holds {len(held)} ids, neither state A nor B"
        ids, tokens = match[0]
        assert loaded.search([tokens[17][3]], 1)[0][0] == ids[17]

    # -- concurrency ------------------------------------------------------------------------
    def test_readers_beside_one_writer_never_see_half_a_write(self, index_type: LexicalIndexType) -> None:
        """Each batch has its own term: a search for it finds the whole batch or none of it."""
        index = index_type()
        batches, size = 40, 25
        batch_ids = [list(range(b * size, (b + 1) * size)) for b in range(batches)]

        def find(b: int, rng: random.Random) -> set[int]:
            allowed = None if rng.random() < 0.5 else np.array(batch_ids[b], dtype=np.int64)
            return set(ids_of(index.search([f"batch{b}"], 2 * size, allowed)))

        problems = readers_beside_writer(
            batches, lambda b: index.add(batch_ids[b], [[f"batch{b}", "shared", f"doc{i}"] for i in batch_ids[b]]),
            lambda b: index.remove(batch_ids[b]), find, lambda b: set(batch_ids[b]))
        assert not problems, problems[:5]
        assert len(index) == size * (batches // 2)

    # -- huge inputs ------------------------------------------------------------------------
    def test_a_huge_batch(self, index_type: LexicalIndexType) -> None:
        n = self.huge_docs
        index = index_type()
        index.add(list(range(n)), [[f"t{i % 1000}", f"g{i % 7}", "all", f"d{i}"] for i in range(n)])
        assert len(index) == n
        hits = index.search(["d12345", "all"], 100)
        assert len(hits) == 100 and hits[0][0] == 12345
        assert len(index.search(["all"], n + 10)) == n

    def test_a_very_long_token_list(self, index_type: LexicalIndexType, tmp_path: Path) -> None:
        index = self.filled(index_type)
        long_doc = [f"v{i % 50_000}" for i in range(self.long_doc)] + ["needle"]
        index.add([100], [long_doc])
        assert ids_of(index.search(["needle"], 5)) == [100]
        query = [f"v{i}" for i in range(0, 50_000, 10)]  # a very long query too
        assert ids_of(index.search(query, 5)) == [100]
        index.save(tmp_path / "lexical")
        assert ids_of(index_type.load(tmp_path / "lexical").search(["needle"], 5)) == [100]
