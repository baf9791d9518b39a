"""Searches per second on one large KB from 1 and N threads: do concurrent questions share the cores?

The vector index takes a readers-writer lock (zhiku/store/locks.py), so questions scan it at the same
time; before, one lock made their scans take turns. The same run measures both: the index as it is,
and the index with its lock swapped for one exclusive lock (what it had before). Hybrid searches with
precomputed query vectors (the embedding has its own queue, see docs/benchmarks.md), each thread
running the same number of dev-set questions.

    python bench/search_throughput.py --chunks 100000 --threads 2
Writes docs/benchmarks/search_throughput.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import build_synthetic_kb, eval_questions, machine, write_json


class ExclusiveLock:
    """The lock the vector index had before: readers and writers alike, one at a time."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._lock:
            yield

    writing = reading


def rate(app: Any, kb: Any, work: list[tuple[str, Any]], threads: int, mode: str) -> float:
    """Searches per second with ``threads`` threads each running all of ``work``."""
    start = threading.Barrier(threads + 1)

    def run() -> None:
        start.wait()
        for q, vec in work:
            app.retriever.search([kb], q, 5, mode, query_vectors={kb.embedder: vec})

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    return threads * len(work) / (time.perf_counter() - t0)


def main() -> None:
    from zhiku import Zhiku, load_settings

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--questions", type=int, default=100)
    args = ap.parse_args()
    home = build_synthetic_kb(args.chunks)
    rows = []
    with Zhiku(load_settings(home=home, overrides={"retrieval": {"query_cache": 0}})) as app:
        kb = app.kb("synthetic")
        embedder = app.embedder(kb.embedder)
        work = [(q, embedder.embed_query(q)) for q in eval_questions(args.questions)]
        vectors = app.indexes.get(kb).vectors
        shared_lock = vectors._lock
        for mode in ("dense", "hybrid"):
            rate(app, kb, work[:10], 1, mode)  # warm
            for label, lock in (("readers-writer lock", shared_lock), ("one exclusive lock (before)", ExclusiveLock())):
                vectors._lock = lock
                one = rate(app, kb, work, 1, mode)
                many = rate(app, kb, work, args.threads, mode)
                row = {"mode": mode, "lock": label, "threads": args.threads, "per_s_1_thread": one,
                       f"per_s_{args.threads}_threads": many, "speedup": many / one}
                rows.append(row)
                print(f"{mode:6} {label:28} 1 thread {one:6.1f}/s, {args.threads} threads {many:6.1f}/s "
                      f"= {many / one:.2f}x", flush=True)
            vectors._lock = shared_lock
    write_json("search_throughput.json", {
        "what": f"searches per second on a {args.chunks}-chunk synthetic KB, 1 vs {args.threads} threads, "
                "precomputed query vectors; the vector index's readers-writer lock vs one exclusive lock",
        "chunks": args.chunks, "questions": len(work), "machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
