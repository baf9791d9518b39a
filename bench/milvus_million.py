"""A million vectors in a real Milvus server through zhiku's `milvus` vector index (issue 14 item 7).

milvus-lite (what the tests use) is a Python engine for development; the Milvus *server* is a Go binary.
The `milvus` wheel on PyPI ("embedded Milvus", last release 2.3.x) carries that binary (Milvus 2.3.5
standalone, embedded etcd, local storage) and starts it as a child process; this script makes a virtual
environment of its own for it (``--venv``), starts the server on 127.0.0.1 and drives it with zhiku's own
``MilvusVectorIndex`` (zhiku/store/milvus_indexes.py: the same collection per dimension with the KB as
partition key, HNSW M 16 / efConstruction 200, ef = max(400, 4k), Strong consistency) through pymilvus.

What is measured: 1,000,000 clustered random 384-d vectors (bench/million.py's clustered_unit) in one KB
plus 20,000 in another (so the partition-key filter has something to leave out), added through
``MilvusVectorIndex.add``; the time until Milvus reports every row indexed; then dense search p50 / p95 for
``--queries`` fresh vectors of the same topics (query embedding excluded, as in bench/backends.py), k 50 as
a hybrid search asks, and recall@10 against an exact scan in numpy; the server's resident memory.
Milvus 2.3 has no BM25 function (it came in 2.5), so zhiku's ``milvus_bm25`` lexical index cannot run on
this server: only the dense channel is measured here.

    python bench/milvus_million.py --size 1000000
Writes docs/benchmarks/backends_milvus_1m.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import WORK, machine, pct, rss_mb, write_json  # noqa: E402
from million import clustered_unit  # noqa: E402

from zhiku.testing.milvus_server import VENV, WHEEL, MilvusServer  # noqa: E402

def wait_indexed(client: Any, collection: str, total: int, timeout: float) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        info = client.describe_index(collection, index_name="vec")
        # Milvus 2.3 leaves pending_index_rows above 0 once every segment is indexed: the state says it
        if int(info.get("indexed_rows", 0)) >= total and (info.get("state") == "Finished"
                                                         or int(info.get("pending_index_rows", 0)) == 0):
            return time.perf_counter() - t0
        time.sleep(5)
    raise SystemExit(f"Milvus had not indexed every row after {timeout:.0f} s: {info}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--other", type=int, default=20_000, help="vectors of a second KB in the same collection")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--venv", type=Path, default=VENV, help="the virtual environment of the `milvus` wheel")
    ap.add_argument("--port", type=int, default=19541)
    ap.add_argument("--index-timeout", type=float, default=4 * 3600)
    ap.add_argument("--out", default="backends_milvus_1m.json")
    ap.add_argument("--attach", action="store_true", help="search a server this script left running and built "
                    "(same --size and seed): no start, no adding")
    ap.add_argument("--reopen", action="store_true", help="start the server on the data an earlier run built "
                    "(same --size and seed) and search it: no adding")
    args = ap.parse_args()
    running = args.attach and not args.reopen  # a server left running: nothing to start
    args.attach = args.attach or args.reopen  # the vectors are there: regenerate them only to score recall

    from zhiku.store.milvus_indexes import MilvusVectorIndex

    base = WORK / "milvus-million"
    import shutil

    if not args.reopen:
        shutil.rmtree(base, ignore_errors=True)
    server = None if running else MilvusServer(base, args.port, args.venv).start()
    uri = f"http://127.0.0.1:{args.port}"
    result: dict[str, Any] = {"machine": machine(), "size": args.size, "other_kb": args.other,
                              "server": f"Milvus standalone from the `{WHEEL}` wheel (embedded etcd, local "
                                        "storage), on 127.0.0.1",
                              "vectors": "clustered random unit vectors, 384 dimensions (bench/million.py); queries: "
                                         "fresh vectors of the same topics; query embedding excluded"}
    try:
        big = MilvusVectorIndex(uri, "", "million", 384, held=args.size if args.attach else 0)
        small = MilvusVectorIndex(uri, "", "other", 384, held=args.other if args.attach else 0)
        result["server_version"] = big.client.get_server_version()
        rng = np.random.default_rng(7)
        t0 = time.perf_counter()
        step = 50_000
        stored = np.empty((args.size, 384), dtype=np.float32)
        for start in range(0, args.size, step):  # attached: the same vectors again, to score recall
            n = min(step, args.size - start)
            v = clustered_unit(rng, n, 384)
            stored[start:start + n] = v
            if not args.attach:
                big.add(np.arange(start, start + n), v)
                print(f"added {start + n:,} ({time.perf_counter() - t0:.0f} s)", flush=True)
        if not args.attach:
            small.add(np.arange(args.size, args.size + args.other), clustered_unit(rng, args.other, 384))
            result["add_s"] = round(time.perf_counter() - t0, 1)
            big.client.flush(big.collection)
            result["flush_s"] = round(time.perf_counter() - t0 - result["add_s"], 1)
        result["index_wait_s"] = round(wait_indexed(big.client, big.collection, args.size + args.other,
                                                    args.index_timeout), 1)
        print(f"indexed: add {result.get('add_s')} s, flush {result.get('flush_s')} s, index "
              f"{result['index_wait_s']} s", flush=True)
        queries = clustered_unit(np.random.default_rng(3), args.queries, 384)
        for q in queries[:10]:
            big.search(q, 50)
        # zhiku's reads wait for its own last write to the collection (the guarantee timestamp); before, every
        # read was Strong, which waits for the next time tick of every channel. Alternating, pass by pass.
        if not big.written:  # attached to data written by another run: this process's write gives the timestamp
            small.add(np.array([args.size + args.other]), clustered_unit(rng, 1, 384))
            big.written = small.written
        variants = {"reads after zhiku's last write (now)": big.written, "Strong (before)": 0}
        rows = []
        for run in range(1, args.passes + 1):
            for name in (list(variants) if run % 2 else list(variants)[::-1]):
                big.written = variants[name]
                times = []
                for q in queries:
                    t1 = time.perf_counter()
                    big.search(q, 50)
                    times.append((time.perf_counter() - t1) * 1000)
                rows.append({"mode": "dense", "consistency": name, "pass": run, "k": 50,
                             "p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2),
                             "loadavg": [round(x, 2) for x in os.getloadavg()]})
                print(rows[-1], flush=True)
        big.written = variants["reads after zhiku's last write (now)"]
        result["search"] = rows
        exact = np.argsort(-(queries[:50] @ stored.T), axis=1)[:, :10]
        got = [[i for i, _ in big.search(q, 10)] for q in queries[:50]]
        result["recall_at_10"] = round(float(np.mean([len(set(g) & set(e.tolist())) / 10 for g, e in zip(got, exact)])), 4)
        leaked = sum(1 for q in queries[:50] for i, _ in big.search(q, 50) if i >= args.size)
        result["other_kb_hits_leaked"] = leaked
        pid = server.binary_pid() if server else next(
            (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and (p / "comm").exists()
             and (p / "comm").read_text().strip() == "milvus"), None)
        result["milvus_rss_mb"] = round(rss_mb(pid)) if pid else None
        print(f"recall@10 {result['recall_at_10']}, other KB's hits leaked {leaked}, Milvus RSS "
              f"{result['milvus_rss_mb']} MB", flush=True)
    finally:
        if server is not None:
            server.stop()
    print(write_json(args.out, result))


if __name__ == "__main__":
    main()
