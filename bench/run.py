"""`make bench` (quick, under 10 minutes on two idle cores) and `make bench-full` (everything).

Each benchmark is its own script writing JSON and PNG into docs/benchmarks/ (see
docs/benchmarks.md). Synthetic KBs are cached under $BENCH_WORK_DIR (default
/tmp/zhiku-bench) and reused by later runs. BENCH_SEED_CACHE=path/to/zhiku.db seeds the
quality benchmark's embedding cache (the dev sets then need not be embedded again).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

QUICK: list[tuple[str, list[str]]] = [
    ("latency.py", ["--sizes", "1000", "10000", "--chatchat-max", "10000", "--queries", "60",
                    "--chatchat-queries", "3"]),
    ("chatchat_pinned.py", ["--sizes", "1000", "--chatchat-queries", "2"]),
    ("startup.py", ["--sizes", "10000"]),
    ("ingestion.py", ["--files", "4"]),
    ("concurrency.py", ["--clients", "1", "10", "--upload-mb", "200"]),
    ("quality.py", []),
    ("web_rank.py", ["--questions", "10"]),
    ("tables.py", []),
    ("agent.py", []),
]
FULL: list[tuple[str, list[str]]] = [
    ("latency.py", ["--sizes", "1000", "10000", "20000", "100000", "--chatchat-max", "20000", "--queries", "200",
                    "--chatchat-queries", "5"]),
    ("chatchat_pinned.py", ["--sizes", "1000", "10000", "20000", "50000", "--chatchat-queries", "3"]),
    ("startup.py", ["--sizes", "10000", "100000"]),
    ("ingestion.py", ["--files", "40"]),
    ("concurrency.py", ["--clients", "1", "10", "50", "--upload-mb", "200"]),
    ("quality.py", ["--full"]),
    ("web_rank.py", ["--questions", "60"]),
    ("search_throughput.py", ["--chunks", "100000"]),
    ("workers.py", ["--files", "40", "--rounds", "4"]),
    ("chats_postgres.py", ["--rounds", "4"]),
    ("chat_cpu.py", ["--rounds", "4", "--env", "short_spin=GOMP_SPINCOUNT=1000"]),
    ("milvus_million.py", ["--size", "1000000"]),
    ("profile.py", []),
    ("tables.py", []),
    ("agent.py", []),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="quick versions (default)")
    group.add_argument("--full", action="store_true", help="everything (100k chunks, 50 clients, every dev set)")
    ap.add_argument("--only", nargs="+", help="run only these scripts, e.g. latency.py quality.py")
    args = ap.parse_args()
    plan = FULL if args.full else QUICK
    seed = os.environ.get("BENCH_SEED_CACHE")
    start = time.time()
    for script, extra in plan:
        if args.only and script not in args.only:
            continue
        if script == "quality.py" and seed:
            extra = [*extra, "--seed-cache", seed]
        t0 = time.time()
        print(f"== {script} {' '.join(extra)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *extra], check=True)
        print(f"   ({time.time() - t0:.0f} s)", flush=True)
    print(f"== all done in {time.time() - start:.0f} s; results in docs/benchmarks/", flush=True)


if __name__ == "__main__":
    main()
