"""The BM25 index's postings are memory-mapped from the uncompressed scipy .npz it saves (start-up
reads no posting list; the format on disk is unchanged), stay usable for search, adding, removing and
merging; a compressed file is read instead, a damaged one is a load error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import sparse

from zhiku.errors import LoadError
from zhiku.store.lexical import BM25Index


def docs(n: int, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)]
    return [[words[int(j)] for j in rng.zipf(1.3, 30) % 300] for _ in range(n)]


def mapped(a: Any) -> bool:
    """Whether ``a`` is, or is a view of, a memory-mapped file."""
    while a is not None and not isinstance(a, np.memmap):
        a = getattr(a, "base", None)
    return a is not None


def test_loaded_postings_are_memory_mapped_and_keep_working(tmp_path: Path) -> None:
    index = BM25Index()
    index.add(list(range(500)), docs(500))
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    postings = loaded._state.segments[0].postings
    assert mapped(postings.data) and mapped(postings.indices)  # the posting lists (small arrays are read)
    assert not postings.data.flags.writeable
    for q in (["w1", "w7"], ["w250"], ["w3", "w3", "w40"]):
        assert loaded.search(q, 10) == index.search(q, 10)
    loaded.remove(range(0, 500, 2))
    loaded.add(list(range(500, 3500)), docs(3000, seed=1))  # enough to merge everything into a new base
    index.remove(range(0, 500, 2))
    index.add(list(range(500, 3500)), docs(3000, seed=1))
    assert loaded.ids().tolist() == index.ids().tolist()
    assert loaded.search(["w1", "w7"], 20) == index.search(["w1", "w7"], 20)


def test_compressed_postings_are_read_and_a_damaged_file_is_a_load_error(tmp_path: Path) -> None:
    index = BM25Index()
    index.add(list(range(2000)), docs(2000, seed=2))
    d = tmp_path / "bm25"
    index.save(d)
    gen = d / json.loads((d / "manifest.json").read_text())["generation"]
    postings = gen / "seg-0.postings.npz"
    sparse.save_npz(postings, sparse.load_npz(postings), compressed=True)  # not what zhiku writes
    again = BM25Index.load(d)
    assert again.search(["w2", "w9"], 10) == index.search(["w2", "w9"], 10)
    postings.write_bytes(postings.read_bytes()[:200])
    with pytest.raises(LoadError):
        BM25Index.load(d)
