"""A saved exact vector index is memory-mapped when loaded (FAISS's in-place flag: start-up reads no
vector) and copied into memory on its first write (FAISS would abort the process writing to a map);
the approximate form is read as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zhiku.store.vectors import FaissVectorIndex
from zhiku.testing.contracts.vector_index import unit_vectors


def mapped(index: FaissVectorIndex) -> bool:
    return bool(index._mapped)


def test_a_loaded_exact_index_is_mapped_until_its_first_write(tmp_path: Path) -> None:
    vecs = unit_vectors(3000, 32, seed=1)
    index = FaissVectorIndex(32)
    index.add(np.arange(3000, dtype=np.int64), vecs)
    index.save(tmp_path / "v")
    loaded = FaissVectorIndex.load(tmp_path / "v", 32)
    assert mapped(loaded) and not loaded.upgraded
    assert loaded.search(vecs[77], 3) == index.search(vecs[77], 3)
    assert np.allclose(loaded.reconstruct([5]), vecs[[5]], atol=1e-3)
    index.add(np.array([10_000], dtype=np.int64), vecs[:1])  # the file is replaced under the map
    index.save(tmp_path / "v")
    assert len(loaded) == 3000 and loaded.search(vecs[9], 1)[0][0] == 9
    loaded.add(np.array([5000, 5001], dtype=np.int64), unit_vectors(2, 32, seed=2))
    assert not mapped(loaded) and len(loaded) == 3002
    loaded.remove([0, 1])
    assert len(loaded) == 3000 and 0 not in loaded.ids().tolist()
    mapped_again = FaissVectorIndex.load(tmp_path / "v", 32)
    mapped_again.remove([3])  # a remove is a first write too
    assert not mapped(mapped_again) and len(mapped_again) == 3000


def test_a_mapped_index_crossing_the_threshold_moves_into_memory(tmp_path: Path) -> None:
    vecs = unit_vectors(600, 16, seed=3)
    index = FaissVectorIndex(16, approximate_above=10**6)
    index.add(np.arange(600, dtype=np.int64), vecs)
    index.save(tmp_path / "v")
    smaller = FaissVectorIndex.load(tmp_path / "v", 16, approximate_above=300)  # the setting was lowered
    assert smaller.approximate and smaller.upgraded and not mapped(smaller)
    smaller.add(np.array([900], dtype=np.int64), vecs[:1])
    assert len(smaller) == 601 and smaller.search(vecs[42], 1)[0][0] == 42
