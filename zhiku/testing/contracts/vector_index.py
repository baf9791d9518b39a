"""The contract of a vector index backend (``zhiku.store.index_protocols.VectorIndex``).

Subclass ``VectorIndexContract`` and provide the ``index_type`` fixture: the backend as the
registry holds it (``index_type(dimensions)`` makes an empty index, ``index_type.load(path,
dimensions)`` opens a saved one). Vectors are L2-normalised; scores are compared with a
tolerance of ``score_tolerance`` (a backend storing half precision loses ~1e-3).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from zhiku.store.index_protocols import VectorIndex, VectorIndexType
from zhiku.testing.contracts.concurrency import readers_beside_writer
from zhiku.testing.contracts.crash import kill_during_saves, vector_states


def unit_vectors(n: int, dimensions: int, seed: int = 0) -> np.ndarray:
    vecs = np.random.default_rng(seed).standard_normal((n, dimensions)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def ids_of(hits: list[tuple[int, float]]) -> list[int]:
    return [i for i, _ in hits]


class VectorIndexContract:
    dimensions = 16
    score_tolerance = 1e-2
    huge = 100_000  # vectors in the "huge batch" test

    @pytest.fixture
    def index_type(self) -> VectorIndexType:
        raise NotImplementedError("a subclass provides the backend under test as the index_type fixture")

    def new(self, index_type: VectorIndexType) -> VectorIndex:
        return index_type(self.dimensions)

    def filled(self, index_type: VectorIndexType, n: int = 200, seed: int = 0) -> tuple[VectorIndex, np.ndarray]:
        index = self.new(index_type)
        vecs = unit_vectors(n, self.dimensions, seed)
        index.add(np.arange(n, dtype=np.int64), vecs)
        return index, vecs

    # -- the protocol ------------------------------------------------------------------------
    def test_implements_the_protocol(self, index_type: VectorIndexType) -> None:
        index = self.new(index_type)
        assert isinstance(index, VectorIndex)
        assert index.dimensions == self.dimensions
        assert index.upgraded is False

    # -- empty inputs -----------------------------------------------------------------------
    def test_an_empty_index_finds_nothing(self, index_type: VectorIndexType) -> None:
        index = self.new(index_type)
        query = unit_vectors(1, self.dimensions)[0]
        assert len(index) == 0
        assert index.search(query, 5) == []
        assert index.search(query, 5, np.array([1, 2], dtype=np.int64)) == []
        assert index.ids().size == 0

    def test_empty_add_and_remove_change_nothing(self, index_type: VectorIndexType) -> None:
        index, _ = self.filled(index_type, 10)
        index.add(np.zeros(0, dtype=np.int64), np.zeros((0, self.dimensions), dtype=np.float32))
        index.remove([])
        assert len(index) == 10
        empty = self.new(index_type)
        empty.add(np.zeros(0, dtype=np.int64), np.zeros((0, self.dimensions), dtype=np.float32))
        assert len(empty) == 0

    def test_k_zero_and_empty_allowed_find_nothing(self, index_type: VectorIndexType) -> None:
        index, vecs = self.filled(index_type, 20)
        assert index.search(vecs[0], 0) == []
        assert index.search(vecs[0], 5, np.zeros(0, dtype=np.int64)) == []

    # -- add, search, remove ----------------------------------------------------------------
    def test_a_stored_vector_finds_itself_first(self, index_type: VectorIndexType) -> None:
        index, vecs = self.filled(index_type, 200)
        assert len(index) == 200
        assert sorted(index.ids().tolist()) == list(range(200))
        for i in (0, 57, 199):
            hits = index.search(vecs[i], 5)
            assert hits[0][0] == i
            assert hits[0][1] == pytest.approx(1.0, abs=self.score_tolerance)

    def test_results_are_best_first_and_at_most_k(self, index_type: VectorIndexType) -> None:
        index, vecs = self.filled(index_type, 200)
        query = unit_vectors(1, self.dimensions, seed=99)[0]
        hits = index.search(query, 10)
        assert len(hits) == 10 and len(set(ids_of(hits))) == 10
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        exact = vecs @ query  # the true cosines: the index finds the true best ones
        best = np.sort(exact)[::-1][:10]
        assert np.allclose(scores, best, atol=self.score_tolerance)
        for i, s in hits:
            assert s == pytest.approx(float(exact[i]), abs=self.score_tolerance)

    def test_k_beyond_the_count_returns_everything(self, index_type: VectorIndexType) -> None:
        index, vecs = self.filled(index_type, 7)
        assert sorted(ids_of(index.search(vecs[0], 50))) == list(range(7))

    def test_adding_an_id_again_replaces_its_vector(self, index_type: VectorIndexType) -> None:
        index, vecs = self.filled(index_type, 50)
        new = unit_vectors(1, self.dimensions, seed=5)[0]
        index.add(np.array([3], dtype=np.int64), new[None, :])
        assert len(index) == 50
        top = index.search(new, 1)[0]
        assert top[0] == 3 and top[1] == pytest.approx(1.0, abs=self.score_tolerance)
        old = dict(index.search(vecs[3], 50))  # the old vector is gone: id 3 now scores as the new one
        if 3 in old:
            assert old[3] == pytest.approx(float(new @ vecs[3]), abs=self.score_tolerance)

    def test_removed_ids_are_never_found(self, index_type: VectorIndexType) -> None:
        index, vecs = self.filled(index_type, 100)
        gone = list(range(0, 100, 3))
        index.remove(gone)
        index.remove([10_000, 10_001])  # unknown ids are ignored
        assert len(index) == 100 - len(gone)
        assert set(index.ids().tolist()) == set(range(100)) - set(gone)
        for i in gone[:5]:
            assert not set(ids_of(index.search(vecs[i], 100))) & set(gone)

    def test_search_only_among_allowed_ids(self, index_type: VectorIndexType) -> None:
        index, vecs = self.filled(index_type, 300)
        rng = random.Random(1)
        for _ in range(5):
            allowed = np.array(sorted(rng.sample(range(300), 20)) + [5000], dtype=np.int64)  # 5000: not held
            hits = index.search(vecs[int(allowed[0])], 10, allowed)
            assert len(hits) == 10 and set(ids_of(hits)) <= set(allowed.tolist())
            assert hits[0][0] == allowed[0]
        one = index.search(vecs[0], 10, np.array([42], dtype=np.int64))
        assert ids_of(one) == [42]

    def test_reconstruct_gives_back_the_stored_vectors(self, index_type: VectorIndexType) -> None:
        index, vecs = self.filled(index_type, 30)
        got = index.reconstruct([4, 0, 29])
        assert got.shape == (3, self.dimensions)
        assert np.allclose(got, vecs[[4, 0, 29]], atol=self.score_tolerance)

    # -- persistence ------------------------------------------------------------------------
    def test_survives_a_restart(self, index_type: VectorIndexType, tmp_path: Path) -> None:
        index, vecs = self.filled(index_type, 150)
        index.remove([7, 8])
        path = tmp_path / "vectors"
        index.save(path)
        before = [index.search(vecs[i], 5) for i in (0, 9, 149)]
        index.close()
        loaded = index_type.load(path, self.dimensions)
        assert len(loaded) == 148 and set(loaded.ids().tolist()) == set(range(150)) - {7, 8}
        after = [loaded.search(vecs[i], 5) for i in (0, 9, 149)]
        for b, a in zip(before, after):
            assert ids_of(a) == ids_of(b)
            assert np.allclose([s for _, s in a], [s for _, s in b], atol=1e-6)
        loaded.add(np.array([1000], dtype=np.int64), vecs[:1])  # a loaded index takes writes
        assert len(loaded) == 149
        loaded.close()

    def test_an_empty_index_survives_a_restart(self, index_type: VectorIndexType, tmp_path: Path) -> None:
        self.new(index_type).save(tmp_path / "vectors")
        loaded = index_type.load(tmp_path / "vectors", self.dimensions)
        assert len(loaded) == 0 and loaded.search(unit_vectors(1, self.dimensions)[0], 3) == []

    def test_a_later_save_replaces_an_earlier_one(self, index_type: VectorIndexType, tmp_path: Path) -> None:
        path = tmp_path / "vectors"
        first, _ = self.filled(index_type, 10)
        first.save(path)
        second = self.new(index_type)
        second.add(np.array([500, 501], dtype=np.int64), unit_vectors(2, self.dimensions, seed=3))
        second.save(path)
        assert sorted(index_type.load(path, self.dimensions).ids().tolist()) == [500, 501]

    def test_loading_where_nothing_was_saved_is_file_not_found(
        self, index_type: VectorIndexType, tmp_path: Path
    ) -> None:
        with pytest.raises(FileNotFoundError):
            index_type.load(tmp_path / "never-saved", self.dimensions)

    @pytest.mark.parametrize("delay_s", [0.0, 0.03, 0.2])
    def test_a_crash_during_save_leaves_a_whole_index(
        self, index_type: VectorIndexType, tmp_path: Path, delay_s: float
    ) -> None:
        path = tmp_path / "vectors"
        kill_during_saves("vector", index_type, path, self.dimensions, delay_s)
        loaded = index_type.load(path, self.dimensions)
        held = set(loaded.ids().tolist())
        states = vector_states(self.dimensions)
        match = [s for s in states if held == set(s[0].tolist())]
        assert match, f"after a crash the index holds {len(held)} ids, neither state A nor B"
        ids, vecs = match[0]
        assert loaded.search(vecs[17], 1)[0][0] == ids[17]

    # -- concurrency ------------------------------------------------------------------------
    def test_readers_beside_one_writer_never_see_half_a_write(self, index_type: VectorIndexType) -> None:
        """Each batch's vectors are one vector: a search among a batch's ids finds all or none."""
        index = self.new(index_type)
        batches, size = 40, 25
        directions = unit_vectors(batches, self.dimensions, seed=11)
        batch_ids = [np.arange(b * size, (b + 1) * size, dtype=np.int64) for b in range(batches)]

        def find(b: int, rng: random.Random) -> set[int]:
            found = set(ids_of(index.search(directions[b], 2 * size, batch_ids[b])))
            len(index)  # counting beside the writer must not fail either
            return found

        problems = readers_beside_writer(
            batches, lambda b: index.add(batch_ids[b], np.repeat(directions[b][None, :], size, axis=0)),
            lambda b: index.remove(batch_ids[b].tolist()), find, lambda b: set(batch_ids[b].tolist()))
        assert not problems, problems[:5]
        assert len(index) == size * (batches // 2)

    # -- huge inputs ------------------------------------------------------------------------
    def test_a_huge_batch(self, index_type: VectorIndexType) -> None:
        index = self.new(index_type)
        vecs = unit_vectors(self.huge, self.dimensions, seed=4)
        index.add(np.arange(self.huge, dtype=np.int64), vecs)
        assert len(index) == self.huge
        probe = min(12345, self.huge - 1)
        hits = index.search(vecs[probe], 1000)
        assert len(hits) == 1000 and hits[0][0] == probe
        allowed = np.arange(0, self.huge, 7, dtype=np.int64)
        assert set(ids_of(index.search(vecs[7], 50, allowed))) <= set(allowed.tolist())
