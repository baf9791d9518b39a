"""A million chunks on PostgreSQL (pgvector + pg_bm25): load time, HNSW build time, then hybrid / dense /
lexical p50 / p95 (query embedding excluded) and HNSW recall@10 against the exact scan.

The KB is synthetic (common.SyntheticText: real mixed zh/en sentences for BM25) with *clustered random*
384-d vectors (bench/million.py's clustered_unit: 10,000 random topic centres plus noise), written
straight into a PostgreSQL app through Catalog.commit_file (the path ingestion takes), 1,000 chunks a file.
Bulk-load order, as pgvector and PostgreSQL advise for a load of this size: the HNSW index and the postings'
primary key are dropped before the load and built after it (``maintenance_work_mem`` and parallel maintenance
workers raised in this server). Queries: stored vectors plus noise (in distribution) and fresh vectors.

    nice -n 19 python bench/pg_million.py build --root /tmp/pg-million --size 1000000   # progress.json there
    python bench/pg_million.py measure --root /tmp/pg-million                           # the server kept running
    python bench/pg_million.py pruning --root /tmp/pg-million --out backends_pg_1m_pruning.json  # BM25 pruning on/off
    python bench/pg_million.py startup --root /tmp/pg-million --out backends_pg_1m_startup.json --passes 3
Writes ROOT/progress.json (each phase as it ends) and, after ``measure``, docs/benchmarks/backends_pg_1m.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SYNTH_FILE_CHUNKS, SyntheticText, eval_questions, machine, pct, write_json  # noqa: E402
from million import clustered_unit  # noqa: E402

RESIDENT = {"vector": "pgvector", "lexical": "pg_bm25"}
SERVER_SETTINGS = {"shared_buffers": "2GB", "maintenance_work_mem": "3GB", "max_parallel_maintenance_workers": "2",
                   "max_wal_size": "8GB", "checkpoint_timeout": "30min", "work_mem": "64MB"}


def progress(root: Path, **fields: Any) -> dict[str, Any]:
    path = root / "progress.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(fields, updated=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                loadavg=[round(x, 2) for x in os.getloadavg()])
    path.write_text(json.dumps(data, indent=1))
    return data


def server(root: Path) -> Any:
    from zhiku.testing.postgres import LocalPostgres

    port_file = root / "port"
    pg = LocalPostgres(root / "pg", int(port_file.read_text()) if port_file.exists() else None)
    port_file.write_text(str(pg.port))
    if not (pg.pgdata / "postmaster.pid").exists():  # not left running by an earlier step
        pg.start()
    return pg


def build(args: argparse.Namespace) -> None:
    from sqlalchemy import text

    from zhiku import Zhiku, load_settings
    from zhiku.store.pg_schema import ensure_hnsw, hnsw_index_name

    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    pg = server(root)
    for key, value in SERVER_SETTINGS.items():
        pg.sql(f"ALTER SYSTEM SET {key} = '{value}'")
    pg.stop()
    pg.start()
    url = pg.url("million") if (root / "url").exists() else pg.new_database("million")
    (root / "url").write_text(url)
    app = Zhiku(load_settings(home=root / "home", overrides={"database_url": url, "index": RESIDENT}))
    kb = app.create_kb("synthetic", description=f"{args.size} synthetic chunks (clustered vectors)")
    with app.engine.begin() as conn:  # bulk load first, indexes after
        conn.execute(text(f"DROP INDEX IF EXISTS {hnsw_index_name(kb.dimensions)}"))
        conn.execute(text("ALTER TABLE lexical_postings DROP CONSTRAINT IF EXISTS lexical_postings_pkey"))
        conn.execute(text("DROP INDEX IF EXISTS ix_lexical_postings_doc"))
    progress(root, size=args.size, url=url, phase="load", started=time.time())
    synth = SyntheticText()
    rng = np.random.default_rng(args.size)
    t0 = time.perf_counter()
    for start in range(0, args.size, SYNTH_FILE_CHUNKS):
        n = min(SYNTH_FILE_CHUNKS, args.size - start)
        body = list(synth.chunks(n))
        vecs = clustered_unit(rng, n, kb.dimensions)
        sha = hashlib.sha256(f"{args.size}-{start}".encode()).hexdigest()
        rec = app.catalog.add_pending_file(kb.id, f"synthetic-{start // SYNTH_FILE_CHUNKS:04d}.txt", sha,
                                           sum(len(t.encode()) for t, _ in body), None)
        rows = [{"seq": i, "text": t, "kind": "text", "page": None, "page_end": None, "section": [],
                 "start": None, "end": None, "meta": {}, "tokens": " ".join(tok), "embedding": v.tobytes()}
                for i, ((t, tok), v) in enumerate(zip(body, vecs))]
        app.catalog.commit_file(kb.id, rec.id, rows, None)
        done = start + n
        if done % 50_000 == 0 or done == args.size:
            progress(root, loaded=done, load_s=round(time.perf_counter() - t0, 1))
    t0 = time.perf_counter()
    with app.engine.begin() as conn:
        conn.execute(text("SET maintenance_work_mem = '3GB'"))
        conn.execute(text("ALTER TABLE lexical_postings ADD PRIMARY KEY (kb_id, term, id) INCLUDE (tf, length)"))
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_lexical_postings_doc ON lexical_postings (id)"))
    progress(root, phase="vacuum", postings_index_s=round(time.perf_counter() - t0, 1))
    t0 = time.perf_counter()
    with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    progress(root, phase="hnsw", vacuum_s=round(time.perf_counter() - t0, 1))
    t0 = time.perf_counter()
    ensure_hnsw(app.engine, kb.dimensions)  # maintenance_work_mem and parallel workers: the server's settings
    with app.engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
    progress(root, phase="built", hnsw_build_s=round(time.perf_counter() - t0, 1),
             database_mb=round(int(size or 0) / 2**20))
    app.close()


def build_progress(engine: Any, root: Path, stop: Any) -> None:
    """pgvector's build progress (pg_stat_progress_create_index) into progress.json each minute."""
    from sqlalchemy import text

    t0 = time.perf_counter()
    while not stop.wait(60):
        with engine.connect() as conn:
            row = conn.execute(text("SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index")).first()
        if row is not None:
            progress(root, hnsw_progress={"after_s": round(time.perf_counter() - t0), "phase": row[0],
                                          "tuples_done": int(row[1] or 0), "tuples_total": int(row[2] or 0)})


def vectors_only(args: argparse.Namespace) -> None:
    """The same vectors as ``build`` (same generator, same order) in a database of their own, its HNSW graph
    built after the load, then dense search p50 / p95 and recall@10 against the exact scan at several ef."""
    import threading

    from sqlalchemy import text

    from zhiku.store.engines import open_engine
    from zhiku.store.pg_indexes import PgVectorIndex, write_vectors
    from zhiku.store.pg_schema import create_tables, ensure_hnsw

    root = Path(args.root)
    pg = server(root)
    url = pg.url("vectors") if (root / "vectors_url").exists() else pg.new_database("vectors")
    (root / "vectors_url").write_text(url)
    engine = open_engine(url)
    rng = np.random.default_rng(args.size)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        create_tables(conn)
        if not conn.execute(text("SELECT vectors FROM index_stats WHERE kb_id = 'kb'")).scalar():
            for start in range(0, args.size, SYNTH_FILE_CHUNKS):
                n = min(SYNTH_FILE_CHUNKS, args.size - start)
                write_vectors(conn, "kb", np.arange(start, start + n), clustered_unit(rng, n, 384))
    progress(root, vectors_only={"size": args.size, "copy_s": round(time.perf_counter() - t0, 1)})
    stop = threading.Event()
    watcher = threading.Thread(target=build_progress, args=(engine, root, stop), daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    ensure_hnsw(engine, 384)
    stop.set()
    build_s = round(time.perf_counter() - t0, 1)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE chunk_vectors"))
    progress(root, vectors_only={"size": args.size, "hnsw_build_s": build_s})
    index = PgVectorIndex(engine, "kb", 384)
    qrng = np.random.default_rng(7)
    stored = np.vstack([clustered_unit(np.random.default_rng(args.size), SYNTH_FILE_CHUNKS, 384)])  # file 0's
    near = stored[qrng.choice(len(stored), args.recall_queries, replace=False)]
    near = near + 0.3 * qrng.standard_normal(near.shape).astype(np.float32) / np.sqrt(384)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    fresh = clustered_unit(qrng, args.recall_queries, 384)
    out: dict[str, Any] = {"size": args.size, "hnsw_build_s": build_s, "runs": []}
    for label, queries in (("in_distribution", near), ("fresh_same_topics", fresh)):
        exact, t_exact = [], []
        for q in queries:
            index.exact_max = 1 << 62
            s0 = time.perf_counter()
            exact.append({i for i, _ in index.search(q, 50)[:10]})
            t_exact.append((time.perf_counter() - s0) * 1000)
        index.exact_max = 20_000
        for ef in args.ef:
            found, times = [], []
            for q, want in zip(queries, exact):
                s0 = time.perf_counter()
                got = ef_search(index, q, 50, ef)
                times.append((time.perf_counter() - s0) * 1000)
                found.append(len({i for i, _ in got[:10]} & want) / 10)
            out["runs"].append({"queries": label, "ef_search": ef, "recall_at_10": round(float(np.mean(found)), 4),
                                "p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2),
                                "exact_p50_ms": round(pct(t_exact, 50), 1), "loadavg": [round(x, 2) for x in os.getloadavg()]})
            print(json.dumps(out["runs"][-1]), flush=True)
    progress(root, vectors_only=out)
    engine.dispose()


def ef_search(index: Any, query: np.ndarray, k: int, ef: int) -> list[tuple[int, float]]:
    """PgVectorIndex.search's graph query at a given hnsw.ef_search."""
    from sqlalchemy import text

    d = index.dimensions
    q = "[" + ",".join(f"{float(x):.7g}" for x in query) + "]"
    with index.engine.begin() as conn:
        conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true), set_config('hnsw.iterative_scan', "
                          "'relaxed_order', true), set_config('enable_sort', 'off', true)"), {"ef": str(ef)})
        rows = conn.execute(text(
            f"SELECT id, ((embedding::halfvec({d})) <#> CAST(:q AS halfvec({d}))) AS dist FROM chunk_vectors "
            f"WHERE dimensions = {d} AND kb_id = :s ORDER BY dist LIMIT :k"), {"s": index.scope, "q": q, "k": k}).all()
    return sorted(((int(i), -float(x)) for i, x in rows), key=lambda h: (-h[1], h[0]))


def _opened(args: argparse.Namespace) -> tuple[dict[str, Any], Any, Any, list[str], np.ndarray]:
    """The built KB's server started, the app on it, its KB, the questions and their query vectors."""
    from zhiku import Zhiku, load_settings

    root = Path(args.root)
    state = json.loads((root / "progress.json").read_text())
    server(root)
    app = Zhiku(load_settings(home=root / "home", overrides={"database_url": state["url"], "index": RESIDENT}))
    kb = app.kb("synthetic")
    questions = eval_questions(args.queries)
    return state, app, kb, questions, clustered_unit(np.random.default_rng(3), len(questions), kb.dimensions)


def measure(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from backends import hnsw_recall

    state, app, kb, questions, vectors = _opened(args)
    rows: list[dict[str, Any]] = []
    for run in range(1, args.passes + 1):
        for mode in ("hybrid", "dense", "lexical"):
            for q, v in zip(questions[:10], vectors):
                app.retriever.search([kb], q, mode=mode, query_vectors={kb.embedder: v})
            times = []
            for q, v in zip(questions, vectors):
                t0 = time.perf_counter()
                app.retriever.search([kb], q, mode=mode, query_vectors={kb.embedder: v})
                times.append((time.perf_counter() - t0) * 1000)
            rows.append({"mode": mode, "pass": run, "p50_ms": round(pct(times, 50), 2),
                         "p95_ms": round(pct(times, 95), 2), "loadavg": [round(x, 2) for x in os.getloadavg()]})
            print(json.dumps(rows[-1]), flush=True)
    recall = [hnsw_recall(app.engine, kb.id, kb.dimensions, vectors[:args.recall_queries], 50, ef)
              for ef in args.ef]
    print(json.dumps(recall), flush=True)
    app.close()
    print(write_json(args.out, {"machine": machine(), "build": state, "search": rows, "hnsw_recall": recall,
                                "vectors": "clustered random unit vectors, 384 dimensions (bench/million.py); "
                                "queries: fresh vectors of the same topics"}))


def pruning(args: argparse.Namespace) -> None:
    """pg_bm25's MaxScore pruning on and off in one process, alternating pass by pass (lexical and hybrid,
    the query embedding excluded); first checks that both give the same hits with the same scores."""
    from zhiku.store import pg_lexical

    state, app, kb, questions, vectors = _opened(args)
    variants = {"pruned": pg_lexical.PRUNE_MIN_POSTINGS, "every list": 10**12}

    def hits(q: str, v: np.ndarray, mode: str) -> list[tuple[int, float]]:
        return [(h.chunk_id, h.score) for h in app.retriever.search([kb], q, mode=mode, query_vectors={kb.embedder: v})]

    same = 0
    for q, v in zip(questions, vectors):  # also the warm-up
        got = []
        for limit in variants.values():
            pg_lexical.PRUNE_MIN_POSTINGS = limit
            got.append(hits(q, v, "hybrid"))
        same += got[0] == got[1]
    print(f"same hits and scores: {same} of {len(questions)}", flush=True)
    rows: list[dict[str, Any]] = []
    for run in range(args.passes * 2):
        for name in (list(variants) if run % 2 == 0 else list(variants)[::-1]):
            pg_lexical.PRUNE_MIN_POSTINGS = variants[name]
            for mode in ("lexical", "hybrid"):
                times = []
                for q, v in zip(questions, vectors):
                    t0 = time.perf_counter()
                    hits(q, v, mode)
                    times.append((time.perf_counter() - t0) * 1000)
                rows.append({"variant": name, "mode": mode, "pass": run + 1, "p50_ms": round(pct(times, 50), 2),
                             "p95_ms": round(pct(times, 95), 2), "loadavg": [round(x, 2) for x in os.getloadavg()]})
                print(json.dumps(rows[-1]), flush=True)
    pg_lexical.PRUNE_MIN_POSTINGS = variants["pruned"]
    app.close()
    print(write_json(args.out, {"machine": machine(), "build": state, "same_hits_and_scores": same,
                                "questions": len(questions), "search": rows}))


def _pss_mb(pids: list[int]) -> float:
    """Proportional set size of ``pids`` together (shared memory, PostgreSQL's shared buffers, counted once)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total / 1024


def startup(args: argparse.Namespace) -> None:
    """`zhiku start` on the million-chunk PostgreSQL KB, ``--passes`` times (PostgreSQL kept running): seconds to
    "serving", to the first search answered over HTTP (query embedding included: the model loads then) and a
    later one; then the server's resident memory after ``--queries`` searches, and PostgreSQL's (PSS of all
    its processes, shared buffers counted once)."""
    import re
    import signal
    import subprocess
    import threading

    from zhiku.client import ZhikuClient

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import rss_mb

    root = Path(args.root)
    state = json.loads((root / "progress.json").read_text())
    pg = server(root)
    config = root / "startup-config.json"
    config.write_text(json.dumps({"database_url": state["url"], "index": RESIDENT, "llm": {"detect_local": False}}))
    questions = eval_questions(args.queries)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    rows: list[dict[str, Any]] = []
    for run in range(1, args.passes + 1):
        pg_before = _pss_mb(pg.pids())
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(root / "home"), "--config", str(config),
                                 "start", "--no-ui", "--port", "0"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        url = next((m.group(1) for line in proc.stdout if (m := re.search(r"serving on (http://\S+)", line))), None)
        if url is None:
            raise SystemExit(f"zhiku start exited with {proc.wait()}")
        serving_s = time.perf_counter() - t0
        threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()
        try:
            with ZhikuClient(url, timeout=300) as client:
                t1 = time.perf_counter()
                client.search(["synthetic"], questions[0])
                first_ms = (time.perf_counter() - t1) * 1000
                later = []
                for q in questions[1:]:
                    t1 = time.perf_counter()
                    client.search(["synthetic"], q)
                    later.append((time.perf_counter() - t1) * 1000)
            rows.append({"pass": run, "serving_s": round(serving_s, 2),
                         "first_search_ms": round(first_ms, 1), "first_search_after_start_s":
                         round(serving_s + first_ms / 1000, 2), "later_search_p50_ms": round(pct(later, 50), 1),
                         "later_search_p95_ms": round(pct(later, 95), 1),
                         "zhiku_rss_mb": round(rss_mb(proc.pid)), "postgres_pss_mb_before": round(pg_before),
                         "postgres_pss_mb": round(_pss_mb(pg.pids())),
                         "loadavg": [round(x, 2) for x in os.getloadavg()]})
            print(json.dumps(rows[-1]), flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    print(write_json(args.out, {
        "machine": machine(), "build": state, "runs": rows, "server_settings": SERVER_SETTINGS,
        "what": "zhiku start (one process, no UI) on the 1M-chunk PostgreSQL KB: seconds to serving, first and "
                "later HTTP searches (hybrid, query embedding included), zhiku's RSS after the searches, "
                "PostgreSQL's PSS summed over its processes (before this zhiku started, and after its searches)"}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("build", "measure", "vectors", "pruning", "startup"))
    parser.add_argument("--root", default="/tmp/pg-million")
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--recall-queries", type=int, default=50)
    parser.add_argument("--ef", type=int, nargs="+", default=[400])
    parser.add_argument("--out", default="backends_pg_1m.json")
    args = parser.parse_args()
    {"build": build, "measure": measure, "vectors": vectors_only, "pruning": pruning,
     "startup": startup}[args.what](args)


if __name__ == "__main__":
    main()
