"""The PostgreSQL backends (pgvector, pg_bm25) pass the same contract suites as faiss and bm25, on a real
PostgreSQL with pgvector (zhiku/testing/postgres.py). Their "save" only records which index it was, so
the crash test that matters for them is a writer killed mid-transaction: the index holds the batch
whole or not at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Iterator

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from zhiku.store.engines import open_engine
from zhiku.store.index_protocols import LexicalIndexType, VectorIndexType
from zhiku.store import pg_indexes
from zhiku.store.pg_indexes import PgVectorIndex
from zhiku.store.pg_lexical import PgLexicalIndex
from zhiku.store.pg_schema import ensure_hnsw, hnsw_index_name
from zhiku.testing.contracts import LexicalIndexContract, VectorIndexContract
from zhiku.testing.contracts.vector_index import unit_vectors


@pytest.fixture(scope="module")
def pg_engine(postgres_server) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    url = postgres_server.new_database()
    engine = open_engine(url)
    yield engine
    engine.dispose()
    postgres_server.drop_database(url)


WRITER = """
import sys, numpy as np
from zhiku.store.engines import make_engine
from zhiku.store import pg_indexes
from zhiku.store.pg_indexes import PgVectorIndex
from zhiku.store.pg_lexical import PgLexicalIndex
engine, kind, scope = make_engine(sys.argv[1] + ("&" if "?" in sys.argv[1] else "?") + "application_name=zhiku-killed-writer"), sys.argv[2], sys.argv[3]
index = PgVectorIndex(engine, scope, 16) if kind == "vector" else PgLexicalIndex(engine, scope)
rng = np.random.default_rng(0)
print("ready", flush=True)
n = 0
while True:
    ids = np.arange(n * 2000, (n + 1) * 2000, dtype=np.int64)
    if kind == "vector":
        vecs = rng.standard_normal((2000, 16)).astype(np.float32)
        index.add(ids, vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
    else:
        index.add(ids.tolist(), [["batch%d" % n, "w%d" % (i % 50)] * 20 for i in range(2000)])
    n += 1
    print("batch", n, flush=True)
"""


def kill_a_writer(engine: Engine, kind: str, scope: str) -> None:
    """A process adding batches of 2000 to an index, SIGKILLed in the middle of one (or between two).

    Killing the client does not stop its server session at once: a COMMIT already sent completes after
    the kill (a fresh-clone run read 12,000 ids and then a count of 10,000, the batch in flight
    committing between the two reads). So wait until the killed client's session has ended: from then
    on the index is what the crash left."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen([sys.executable, "-c", WRITER, engine.url.render_as_string(hide_password=False),
                              kind, scope], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        for _ in range(2):
            assert child.stdout.readline().startswith("batch")
        time.sleep(0.1)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    deadline = time.monotonic() + 60
    with engine.connect() as conn:
        # pg_stat_activity is read once per transaction: each look is a transaction of its own
        while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                "'zhiku-killed-writer' AND datname = current_database()")).scalar():
            conn.rollback()
            assert time.monotonic() < deadline, "the killed writer's server session did not end"
            time.sleep(0.05)


class TestPgVectorIndex(VectorIndexContract):
    huge = 8000  # each vector enters an HNSW graph as it is written: smaller than faiss's batch

    @pytest.fixture
    def index_type(self, pg_engine: Engine) -> VectorIndexType:
        return PgVectorIndex.bind(pg_engine)

    def test_a_crash_during_save_leaves_a_whole_index(self, pg_engine: Engine) -> None:  # type: ignore[override]
        """Saving records the scope only (atomically); what a crash can cut is a write: the batch is
        whole or absent."""
        kill_a_writer(pg_engine, "vector", "t-killed-vector-writer")
        index = PgVectorIndex(pg_engine, "t-killed-vector-writer", 16)
        held = index.ids()
        assert held.size >= 4000 and held.size % 2000 == 0 and len(index) == held.size
        assert np.array_equal(held, np.arange(held.size))

    def test_hnsw_search_over_a_large_kb_finds_what_exact_search_finds(self, pg_engine: Engine) -> None:
        index = PgVectorIndex.bind(pg_engine, exact_max=1000)(self.dimensions)
        n = 4000  # over exact_max: the HNSW index answers
        vecs = unit_vectors(n, self.dimensions, seed=8)
        index.add(np.arange(n, dtype=np.int64), vecs)
        for q in (5, 777, 3999):
            hits = index.search(vecs[q], 10)
            assert hits[0][0] == q and len(hits) == 10
        allowed = np.arange(0, n, 2, dtype=np.int64)  # a filter HNSW must honour (iterative scan)
        hits = index.search(vecs[1], 10, allowed)
        assert len(hits) == 10 and all(i % 2 == 0 for i, _ in hits)


class TestPgLexicalIndex(LexicalIndexContract):
    huge_docs = 20_000

    @pytest.fixture
    def index_type(self, pg_engine: Engine) -> LexicalIndexType:
        return PgLexicalIndex.bind(pg_engine)

    def test_a_crash_during_save_leaves_a_whole_index(self, pg_engine: Engine) -> None:  # type: ignore[override]
        kill_a_writer(pg_engine, "lexical", "t-killed-lexical-writer")
        index = PgLexicalIndex(pg_engine, "t-killed-lexical-writer")
        held = index.ids()
        assert held.size >= 4000 and held.size % 2000 == 0 and len(index) == held.size
        for b in range(held.size // 2000):
            assert len(index.search([f"batch{b}"], 3000)) == 2000
        assert index.search([f"batch{held.size // 2000}"], 10) == []

    def test_scores_and_coverage_equal_the_built_in_bm25(self, index_type: LexicalIndexType) -> None:
        from zhiku.store.lexical import BM25Index

        docs = {i: [f"w{i % 7}", f"w{i % 11}", "common", *([f"r{i}"] * (i % 3 + 1))] for i in range(300)}
        ours, builtin = index_type(), BM25Index()
        for index in (ours, builtin):
            index.add(list(docs), list(docs.values()))
            index.remove([3, 4])
        for query in (["w1", "common"], ["r10", "w3", "missing"], ["w2", "w5", "r77"]):
            got, want = ours.search(query, 20), builtin.search(query, 20)
            assert [i for i, _, _ in got] == [i for i, _, _ in want]
            assert np.allclose([s for _, s, _ in got], [s for _, s, _ in want])
            assert np.allclose([c for _, _, c in got], [c for _, _, c in want])


def _clustered(n: int, d: int, centres: int, seed: int) -> np.ndarray:
    """Vectors around random topic centres (cosine ~0.86 to their centre), as bench/million.py makes them:
    unlike uniform random vectors, and like an embedder's, their near neighbours are distinctly near."""
    rng = np.random.default_rng(seed)
    c = np.random.default_rng(99).standard_normal((centres, d)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    v = c[rng.integers(0, centres, n)] + 0.6 * rng.standard_normal((n, d)).astype(np.float32) / np.sqrt(d)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.slow
def test_the_hnsw_path_finds_the_exact_scans_top_10(postgres_server) -> None:  # type: ignore[no-untyped-def]
    """The graph ensure_hnsw builds (m 32, ef_construction 128): 20k random 384-d vectors (the worst case for
    a graph index: every neighbour nearly as far as the next) searched through it at ef_search 400 (iterative
    scan; sorting off so that the planner, which prefers an exact scan at this size, takes the index) and
    through the exact scan: HNSW finds >= 95% of the exact top 10. With pgvector's default graph (m 16,
    ef_construction 64) and ef_search 100 it found 39%. (Searches use a lower ef: the clustered test below
    holds that one.) A test of what is found, not of time."""
    url = postgres_server.new_database()
    engine = open_engine(url)
    try:
        rng = np.random.default_rng(7)
        d, n = 384, 20_000
        vectors = rng.standard_normal((n, d)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index = PgVectorIndex(engine, "recall", d)
        with engine.begin() as conn:  # built over the loaded rows at once, as a bulk load does (faster)
            conn.execute(text(f"DROP INDEX {hnsw_index_name(d)}"))
        index.add(np.arange(n, dtype=np.int64), vectors)
        ensure_hnsw(engine, d)
        queries = rng.standard_normal((50, d)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        literals = ["[" + ",".join(f"{x:.7g}" for x in q) + "]" for q in queries]
        sql = (f"SELECT id FROM chunk_vectors WHERE dimensions = {d} AND kb_id = 'recall' "
               f"ORDER BY (embedding::halfvec({d})) <#> CAST(:q AS halfvec({d})) LIMIT 10")
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL hnsw.ef_search = 400"))
            conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
            conn.execute(text("SET LOCAL enable_sort = off"))
            plan = " ".join(conn.execute(text("EXPLAIN " + sql), {"q": literals[0]}).scalars())
            got = [set(conn.execute(text(sql), {"q": q}).scalars()) for q in literals]
        assert hnsw_index_name(d) in plan, plan
        found = [len(g & {i for i, _ in index.search(q, 10)}) / 10 for g, q in zip(got, queries)]
        assert np.mean(found) >= 0.95, np.mean(found)  # index.search: the exact scan at 20k
    finally:
        engine.dispose()
        postgres_server.drop_database(url)


@pytest.mark.slow
def test_a_kb_above_exact_max_finds_the_exact_scans_top_10_on_clustered_vectors(postgres_server) -> None:  # type: ignore[no-untyped-def]
    """What KBs above EXACT_MAX rely on: 30k clustered 384-d vectors (3,000 topics, as embeddings cluster
    by topic) queried near stored ones, searched as zhiku searches them (the HNSW graph, 30k > EXACT_MAX)
    and by the exact scan: >= 98% of the exact top 10 found, with the true cosines; likewise through a file
    filter of more than EXACT_MAX ids (the graph with the filter pushed into it)."""
    url = postgres_server.new_database()
    engine = open_engine(url)
    try:
        d, n = 384, 30_000
        assert n > pg_indexes.EXACT_MAX
        vectors = _clustered(n, d, 3000, seed=5)
        index = PgVectorIndex(engine, "topics", d)
        exact = PgVectorIndex(engine, "topics", d, exact_max=1 << 40)
        with engine.begin() as conn:  # built over the loaded rows at once, as a bulk load does (faster)
            conn.execute(text(f"DROP INDEX {hnsw_index_name(d)}"))
        index.add(np.arange(n, dtype=np.int64), vectors)
        ensure_hnsw(engine, d)
        rng = np.random.default_rng(6)
        near = vectors[rng.choice(n, 50, replace=False)] + 0.3 * rng.standard_normal((50, d)).astype(
            np.float32) / np.sqrt(d)
        near /= np.linalg.norm(near, axis=1, keepdims=True)
        found = []
        for q in near:
            got = index.search(q, 50)[:10]
            for i, s in got:
                assert s == pytest.approx(float(vectors[i] @ q), abs=2e-3)
            found.append(len({i for i, _ in got} & {i for i, _ in exact.search(q, 10)}) / 10)
        assert np.mean(found) >= 0.98, np.mean(found)
        allowed = np.flatnonzero(np.arange(n) % 4 != 0)  # a file filter of 22.5k ids: still the graph
        assert allowed.size > pg_indexes.EXACT_MAX
        found = []
        for q in near[:25]:
            got = index.search(q, 50, allowed)[:10]
            assert all(i % 4 != 0 for i, _ in got)
            found.append(len({i for i, _ in got} & {i for i, _ in exact.search(q, 10, allowed)}) / 10)
        assert np.mean(found) >= 0.98, np.mean(found)
    finally:
        engine.dispose()
        postgres_server.drop_database(url)
