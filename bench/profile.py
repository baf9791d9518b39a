"""Where the time goes: a sampling CPU profile (py-spy) of hybrid questions at 100k chunks and of
ingestion, summarised by function.

The script runs itself under ``py-spy record`` (the ``bench`` extra installs it): once asking the
dev-set questions in hybrid mode against the synthetic 100k KB (``Zhiku.search``, query embedding
included, nothing cached: each question is asked once), once adding the ingestion benchmark's files
to an empty KB (``Zhiku.add_files``). Samples of idle threads are dropped, so the shares are of CPU
time, across all threads. Each profile is summarised as the functions with the most samples on
top of the stack ("self") and the zhiku functions with the most samples anywhere in the stack
("inclusive"); the raw collapsed stacks are kept next to the JSON for a flame graph.

    python bench/profile.py [--questions 200] [--files 8]
Writes docs/benchmarks/profile.json; the collapsed stacks stay in $BENCH_WORK_DIR/profile-<target>.txt.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, WORK, build_synthetic_kb, eval_questions, machine, write_json

PY_SPY = Path(sys.executable).with_name("py-spy")
RATE = 250  # samples per second


def run_hybrid(questions: int) -> None:
    from zhiku import Zhiku, load_settings

    home = build_synthetic_kb(100_000)
    with Zhiku(load_settings(home=home, overrides={"retrieval": {"query_cache": 0}})) as app:
        app.warm_up()
        t0 = time.perf_counter()
        for q in eval_questions(questions):
            app.search(["synthetic"], q, 5, "hybrid")
        print(f"{questions} hybrid questions in {time.perf_counter() - t0:.1f} s", flush=True)


def run_ingest(files: int) -> None:
    import shutil

    from ingestion import write_files

    from zhiku import Zhiku, load_settings

    folder = WORK / "profile-ingest-files"
    write_files(folder, files, 3000)
    home = WORK / "profile-ingest-home"
    shutil.rmtree(home, ignore_errors=True)
    with Zhiku(load_settings(home=home)) as app:
        app.create_kb("ingest", description="profiled ingestion")
        t0 = time.perf_counter()
        report = app.add_files("ingest", [str(folder)])
        print(f"ingested {files} files in {time.perf_counter() - t0:.1f} s: {report}", flush=True)


def frame_name(frame: str) -> str:
    """``fn (path/to/file.py:12)`` -> ``fn (file.py)``: one entry per function, not per line."""
    fn, _, where = frame.partition(" (")
    path = where.split(":")[0].rstrip(")")
    parts = Path(path).parts
    short = "/".join(parts[parts.index("zhiku"):]) if "zhiku" in parts else Path(path).name
    return f"{fn} ({short})"


PHASES = {  # a stack belongs to the first phase one of whose functions it holds; the rest is start-up
    "hybrid": ("question", ("Zhiku.search (", "EngineThread._", "FaissVectorIndex.search (", "BM25Index.search (")),
    "ingest": ("ingestion", ("Zhiku.add_files (", "EngineThread._", "_prepare (", "Ingestor.")),
}


def summarise(collapsed: Path, target: str, top: int = 15) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks, for the
    target's measured phase (the questions, the ingestion) and for the process's start-up (imports,
    warm-up) apart."""
    phase, markers = PHASES[target]
    lines = collapsed.read_text(encoding="utf-8", errors="replace").splitlines()
    measured = [line for line in lines if any(m in line for m in markers)]
    other = [line for line in lines if not any(m in line for m in markers)]
    return {phase: shares(measured, top), "set-up (imports, warm-up, the bench's own files)": shares(other, top)}


def shares(lines: list[str], top: int) -> dict[str, Any]:
    """Self and inclusive sample shares per function of these collapsed-stack lines."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";")[1:]]  # the first is the thread
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for f in set(frames):
            if "zhiku/" in f:
                inclusive[f] += n

    def share(c: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / max(total, 1), 1)) for name, n in c.most_common(top)]

    return {"samples": total, "self_percent": share(own), "zhiku_inclusive_percent": share(inclusive)}


def profile(target: str, arg: int) -> dict[str, Any]:
    collapsed = WORK / f"profile-{target}.txt"
    cmd = [str(PY_SPY), "record", "--rate", str(RATE), "--format", "raw", "--output", str(collapsed),
           "--nonblocking", "--", sys.executable, __file__, "--run", target, "--arg", str(arg)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    phases = summarise(collapsed, target)
    result = {"target": target, "arg": arg, "wall_s": round(time.perf_counter() - t0, 1), "machine": machine(),
              "phases": phases}
    for phase, got in phases.items():
        print(f"\n== {target}: {phase} ({got['samples']} samples) — self:")
        for name, pc in got["self_percent"]:
            print(f"  {pc:5.1f}%  {name}")
        print("  zhiku, inclusive:")
        for name, pc in got["zhiku_inclusive_percent"]:
            print(f"  {pc:5.1f}%  {name}")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=int, default=200)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--run", choices=("hybrid", "ingest"), help=argparse.SUPPRESS)  # the profiled child
    ap.add_argument("--arg", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--summarise", action="store_true", help="only summarise the last run's stacks again")
    args = ap.parse_args()
    if args.summarise:
        old = json.loads((OUT / "profile.json").read_text())
        for r in old["profiles"]:
            r.pop("samples", None), r.pop("self_percent", None), r.pop("zhiku_inclusive_percent", None)
            r["phases"] = summarise(WORK / f"profile-{r['target']}.txt", r["target"])
        write_json("profile.json", old)
        return
    if args.run == "hybrid":
        return run_hybrid(args.arg)
    if args.run == "ingest":
        return run_ingest(args.arg)
    if not PY_SPY.exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    build_synthetic_kb(100_000)  # built outside the profile
    results = [profile("hybrid", args.questions), profile("ingest", args.files)]
    write_json("profile.json", {"what": "py-spy CPU profiles (all threads, idle samples dropped) of hybrid "
                                        "questions at 100k chunks and of ingestion", "machine": machine(),
                                "profiles": results})


if __name__ == "__main__":
    main()
