"""Start-up time and memory of `zhiku start` over a synthetic KB, and what the first question costs.

Spawns the real CLI (`zhiku --home H start --port 0`), times until /api/health answers, reads the
server's resident memory, then times the first searches over HTTP: the first must cost about what
the later ones do (indexes and the query model are loaded at start, not on the first question).

    python bench/startup.py --sizes 10000
Writes docs/benchmarks/startup.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    build_synthetic_kb,
    eval_questions,
    machine,
    merge_rows,
    pct,
    rss_mb,
    write_json,
)

ZHIKU = Path(sys.executable).with_name("zhiku")


def measure(size: int, questions: int = 10) -> dict[str, Any]:
    import httpx

    home = build_synthetic_kb(size)
    env = {**os.environ, "ZHIKU_LOG_LEVEL": "WARNING"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(ZHIKU), "--home", str(home), "start", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        assert proc.stdout is not None
        for line in proc.stdout:
            m = re.search(r"serving on (http://\S+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            raise SystemExit(f"zhiku start exited with {proc.wait()}")
        with httpx.Client(base_url=url, timeout=120) as client:
            while client.get("/api/health").status_code != 200:
                time.sleep(0.05)
            ready_s = time.perf_counter() - t0
            rss_ready = rss_mb(proc.pid)
            lat = []
            for q in eval_questions(questions):
                t1 = time.perf_counter()
                r = client.post("/api/search", json={"kbs": ["synthetic"], "query": q})
                r.raise_for_status()
                lat.append((time.perf_counter() - t1) * 1000)
            rss_after = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"chunks": size, "ready_s": ready_s, "rss_mb_ready": rss_ready, "rss_mb_after_questions": rss_after,
            "first_question_ms": lat[0], "later_questions_p50_ms": pct(lat[1:], 50),
            "first_over_later": lat[0] / pct(lat[1:], 50), "machine": machine()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000])
    args = ap.parse_args()
    rows = []
    for size in args.sizes:
        row = measure(size)
        rows.append(row)
        print(f"{size:>7} chunks: ready in {row['ready_s']:.1f} s, {row['rss_mb_ready']:.0f} MB; first question "
              f"{row['first_question_ms']:.0f} ms, later p50 {row['later_questions_p50_ms']:.0f} ms", flush=True)
    rows = sorted(merge_rows("startup.json", "sizes", "chunks", rows), key=lambda r: r["chunks"])
    write_json("startup.json", {"what": "`zhiku start` on a synthetic KB: time to a healthy server, its resident "
                                        "memory, and the first searches over HTTP", "machine": machine(),
                                "sizes": rows})


if __name__ == "__main__":
    main()
