"""The dense index stores float16: same neighbours as float32, and older float32 indexes still open."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from zhiku import Zhiku, load_settings
from zhiku.store.vectors import FaissVectorIndex


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_half_precision_scan_finds_the_exact_neighbours() -> None:
    rng = np.random.default_rng(3)
    centres = _unit(rng, 20, 384)
    vecs = centres[rng.integers(0, 20, 5000)] + 0.05 * rng.standard_normal((5000, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1000, 6000, dtype=np.int64)
    index = FaissVectorIndex(384)
    index.add(ids, vecs)
    for q in _unit(rng, 30, 384) * 0.1 + vecs[rng.integers(0, 5000, 30)]:
        q = q / np.linalg.norm(q)
        exact = vecs @ q
        want = ids[np.argsort(-exact)[:10]]
        got = index.search(q, 10)
        assert [cid for cid, _ in got] == want.tolist()
        for cid, cos in got:
            assert abs(cos - exact[cid - 1000]) < 1e-3
    # filtered search, removal and the stored vectors work as before
    allowed = ids[::7]
    assert {cid for cid, _ in index.search(vecs[0], 20, allowed)} <= set(allowed.tolist())
    index.remove(ids[:10])
    assert len(index) == 4990 and 1000 not in {cid for cid, _ in index.search(vecs[0], 5)}
    assert np.allclose(index.reconstruct([1500]), vecs[500], atol=1e-3)


def test_a_float32_index_from_an_older_version_opens_and_is_rewritten(home: Path, tmp_path: Path) -> None:
    settings = load_settings(home=home, overrides={"embedding": {"default": "static"}})
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.md").write_text("# Tea\n\nLongjing tea comes from Hangzhou.\n", encoding="utf-8")
    (docs / "coffee.md").write_text("# 咖啡\n\n云南小粒咖啡产自普洱和保山。\n", encoding="utf-8")
    with Zhiku(settings) as app:
        app.create_kb("kb")
        assert app.add_files("kb", [docs]).ok
        kb_id = app.kb("kb").id
        before = [(h.file, h.chunk_id) for h in app.search(["kb"], "where is longjing tea from", mode="dense")]
        vectors = app.indexes.get(app.kb("kb")).vectors
        ids = vectors.ids()
        stored = vectors.reconstruct(ids.tolist())
    # what earlier versions wrote: an ID map over an exact float32 index
    path = home / "indexes" / kb_id / "vectors.faiss"
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(stored.shape[1]))
    old.add_with_ids(stored, ids)
    faiss.write_index(old, str(path))
    with Zhiku(settings) as app:
        assert app.check("kb") == []
        assert [(h.file, h.chunk_id) for h in app.search(["kb"], "where is longjing tea from", mode="dense")] == before
    rewritten = faiss.read_index(str(path))
    assert isinstance(faiss.downcast_index(rewritten.index), faiss.IndexScalarQuantizer)
    assert sorted(faiss.vector_to_array(rewritten.id_map).tolist()) == sorted(ids.tolist())
