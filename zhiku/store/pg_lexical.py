"""The ``pg_bm25`` lexical index: Okapi BM25 over postings in PostgreSQL tables (see zhiku.store.pg_indexes
for how the catalog writes them in its transactions, and docs/backends.md for why postings and not tsvector).

A search reads the KB's counts and each query term's document frequency (one round trip), then scores in SQL.
MaxScore pruning, as the built-in ``bm25`` does in memory: a term whose postings are long (over 1/16 of
the KB's documents) can add at most ``idf * (k1 + 1)`` to a document's score. Documents matching a rarer
term are scored in full first; if the k-th best of them already beats what the common terms alone could
add up to, no document matching only common terms can enter the top k, and their long posting lists are
read only for those candidates. Otherwise (or when every term is common) all postings are scored. Either
way the result is exact: the same hits and scores as scoring everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from zhiku.store.pg_indexes import B, K1, MAX_TERM, _all_ids, _ids, _load_scope, _save_scope, _stat
from zhiku.store.pg_indexes import delete_postings, write_postings

COMMON = 16  # a term in more than 1/COMMON of the documents is "common" (the built-in's threshold)
SCORE = "sum(p.tf / (p.tf + (:c0 + :c1 * p.length)) * (q.w * :kw)) AS score, sum(q.w) AS matched"


class PgLexicalIndex:
    """The ``pg_bm25`` lexical index of one scope (see the module docstring)."""

    resident = True

    def __init__(self, engine: Engine, scope: str) -> None:
        self.engine, self.scope = engine, scope

    @classmethod
    def open(cls, engine: Engine, kb_id: str) -> "PgLexicalIndex":
        return cls(engine, kb_id)

    @classmethod
    def bind(cls, engine: Engine) -> "_BoundLexicalType":
        return _BoundLexicalType(engine)

    def __len__(self) -> int:
        return _stat(self.engine, self.scope, "docs")

    def add(self, ids: Sequence[int], tokens: Sequence[Sequence[str]]) -> None:
        with self.engine.begin() as conn:
            write_postings(conn, self.scope, ids, tokens)

    def remove(self, ids: Iterable[int]) -> None:
        with self.engine.begin() as conn:
            delete_postings(conn, self.scope, _ids(ids))

    def search(
        self, query_tokens: Sequence[str], k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float, float]]:
        terms = list(dict.fromkeys(t[:MAX_TERM] for t in query_tokens))
        if k <= 0 or not terms or (allowed is not None and not len(allowed)):
            return []
        with self.engine.connect() as conn:
            # the KB's counts and each term's document frequency in one round trip; per term an index
            # lookup on (kb_id, term), so the plan never reads all of a KB's postings
            rows = conn.execute(text(
                "SELECT NULL AS term, docs, total_len FROM index_stats WHERE kb_id = :s UNION ALL "
                "SELECT q.term, (SELECT count(*) FROM lexical_postings p WHERE p.kb_id = :s AND p.term = q.term), 0 "
                "FROM unnest(CAST(:t AS text[])) AS q(term)"), {"s": self.scope, "t": terms}).all()
            stats = [r for r in rows if r[0] is None]
            n, total_len = (int(stats[0][1]), int(stats[0][2])) if stats else (0, 0)
            if n <= 0:
                return []
            df = {str(r[0]): int(r[1]) for r in rows if r[0] is not None}
            idf = {t: float(np.log(1.0 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5))) for t in terms}
            weight = sum(idf.values())
            known = [t for t in terms if df.get(t)]
            if not known:
                return []
            avgdl = total_len / n if total_len else 1.0
            params: dict[str, Any] = {"s": self.scope, "t": known, "w": [idf[t] for t in known], "k": int(k),
                                      "c0": K1 * (1 - B), "c1": K1 * B / avgdl, "kw": K1 + 1}
            where = ""
            if allowed is not None:
                params["allowed"] = _ids(np.unique(np.asarray(allowed, dtype=np.int64)))
                where = " AND p.id = ANY(CAST(:allowed AS bigint[]))"
            common = [t for t in known if df[t] * COMMON > n]
            rare = [t for t in known if df[t] * COMMON <= n]
            hits = _pruned(conn, params, where, rare, sum(idf[t] for t in common) * (K1 + 1)) if rare and common \
                else None
            if hits is None:
                hits = list(conn.execute(text(
                    f"SELECT p.id, {SCORE} FROM lexical_postings p JOIN unnest(CAST(:t AS text[]), "
                    "CAST(:w AS float8[])) AS q(term, w) ON p.term = q.term "
                    f"WHERE p.kb_id = :s AND p.term = ANY(CAST(:t AS text[])){where} "
                    "GROUP BY p.id ORDER BY score DESC, p.id LIMIT :k"), params))
        return [(int(i), float(s), min(1.0, float(m) / weight)) for i, s, m in hits]

    def ids(self) -> np.ndarray:
        return _all_ids(self.engine, "lexical_docs", self.scope)

    def save(self, path: Path) -> None:
        _save_scope(path, "pg_bm25", self.scope)

    def close(self) -> None:
        pass


class _BoundLexicalType:
    """``PgLexicalIndex`` on one database, shaped as a ``LexicalIndexType``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self) -> PgLexicalIndex:
        return PgLexicalIndex(self.engine, f"t-{uuid.uuid4().hex}")

    def load(self, path: Path) -> PgLexicalIndex:
        return PgLexicalIndex(self.engine, _load_scope(path, "pg_bm25")["scope"])


def _pruned(conn: Connection, params: dict[str, Any], where: str, rare: list[str], common_bound: float) -> list[Any] | None:
    """The top k scored in full among documents holding a rare term, or None when a document holding only
    common terms (at most ``common_bound``) could still beat the k-th of them."""
    rows = conn.execute(text(
        "WITH cand AS (SELECT DISTINCT p.id FROM lexical_postings p "
        f"WHERE p.kb_id = :s AND p.term = ANY(CAST(:rare AS text[])){where}) "
        f"SELECT p.id, {SCORE} FROM cand JOIN lexical_postings p ON p.kb_id = :s AND p.id = cand.id "
        "AND p.term = ANY(CAST(:t AS text[])) JOIN unnest(CAST(:t AS text[]), CAST(:w AS float8[])) AS q(term, w) "
        "ON p.term = q.term GROUP BY p.id ORDER BY score DESC, p.id LIMIT :k"), {**params, "rare": rare}).all()
    if len(rows) < int(params["k"]) or float(rows[-1][1]) <= common_bound:
        return None
    return list(rows)
