"""The ``pg_bm25`` lexical index: Okapi BM25 over postings in PostgreSQL tables (see zhiku.store.pg_indexes
for how the catalog writes them in its transactions, and docs/backends.md for why postings and not tsvector).

The postings rows (``lexical_postings``) are the truth. Beside them ``lexical_terms`` holds, per KB and
term, the document frequency, a version and the term's postings packed as three arrays (ids, tf,
lengths). A write of a term, in the same transaction as its postings, bumps its version and clears the
packed arrays; a search reads the query's terms by primary key (one round trip, one snapshot), packs
the terms found cleared from their postings (``PACK``), scores in numpy, and stores what it packed for
the next search unless the term's version moved meanwhile (``_keep``). So a packed row, when present, is
exactly its postings: nothing derived can go stale, and the answer is the built-in ``bm25``'s (same
formula, terms summed rarest first, ties by id). Summing postings in SQL (a hash aggregate over every
posting of the query's terms) took 25 ms p50 and 86 ms p95 at 100k chunks; see docs/benchmarks.md.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from zhiku.store.pg_indexes import B, K1, MAX_TERM, _all_ids, _ids, _load_scope, _save_scope, _stat
from zhiku.store.pg_indexes import delete_postings, write_postings

log = logging.getLogger(__name__)
# a term's postings packed from its rows (index-only scan of the primary key), as lexical_terms keeps them
PACK = ("SELECT term, string_agg(int8send(id), ''::bytea), string_agg(int4send(tf), ''::bytea), "
        "string_agg(int4send(length), ''::bytea) FROM lexical_postings WHERE kb_id = :s "
        "AND term = ANY(CAST(:t AS text[])) GROUP BY term")


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
        params = {"s": self.scope, "t": terms}
        with self.engine.connect() as conn, conn.begin():
            # one snapshot: the counts, the terms' versions and the postings packed from them agree
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            rows = conn.execute(text(
                "SELECT NULL AS term, docs, total_len, NULL AS ids, NULL AS tfs, NULL AS lens FROM index_stats "
                "WHERE kb_id = :s UNION ALL SELECT term, df, ver, ids, tfs, lens FROM lexical_terms "
                "WHERE kb_id = :s AND term = ANY(CAST(:t AS text[]))"), params).all()
            stats = [r for r in rows if r[0] is None]
            n, total_len = (int(stats[0][1]), int(stats[0][2])) if stats else (0, 0)
            found = {str(r[0]): r for r in rows if r[0] is not None and int(r[1]) > 0}
            if n <= 0 or not found:
                return []
            missing = [t for t, r in found.items() if r[3] is None]
            packed = {t: (r[3], r[4], r[5]) for t, r in found.items() if r[3] is not None}
            if missing:
                packed.update({str(r[0]): (r[1], r[2], r[3]) for r in conn.execute(text(PACK), {**params, "t": missing})})
        if missing:
            _keep(self.engine, self.scope, [(t, int(found[t][2]), *packed[t]) for t in missing if t in packed])
        df = {t: int(r[1]) for t, r in found.items()}
        idf = {t: float(np.log(1.0 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5))) for t in terms}
        avgdl = total_len / n if total_len else 1.0
        # rarest first, as the built-in sums them
        order = sorted((t for t in terms if t in packed), key=lambda t: -idf[t])
        return _score([(idf[t], *packed[t]) for t in order], sum(idf.values()), avgdl, k, allowed)

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


def _keep(engine: Engine, scope: str, rows: list[tuple[str, int, bytes, bytes, bytes]]) -> None:
    """Store the postings a search packed, for the next search, where the term has not changed since
    (``ver``). Best effort: a writer holding a term's row wins (the short lock timeout), and a database
    that refuses writes only keeps searches on the slower path."""
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '20ms'"))
            conn.execute(text(
                "UPDATE lexical_terms SET ids = u.ids, tfs = u.tfs, lens = u.lens FROM unnest(CAST(:t AS text[]), "
                "CAST(:v AS bigint[]), CAST(:i AS bytea[]), CAST(:f AS bytea[]), CAST(:l AS bytea[])) "
                "AS u(term, ver, ids, tfs, lens) WHERE lexical_terms.kb_id = :s AND lexical_terms.term = u.term "
                "AND lexical_terms.ver = u.ver"),
                {"s": scope, "t": [r[0] for r in rows], "v": [r[1] for r in rows], "i": [r[2] for r in rows],
                 "f": [r[3] for r in rows], "l": [r[4] for r in rows]})
    except DBAPIError as e:
        log.debug("pg_bm25: packed postings not kept (%s)", str(e).splitlines()[0])


def _score(terms: list[tuple[float, bytes, bytes, bytes]], weight: float, avgdl: float, k: int,
           allowed: np.ndarray | None) -> list[tuple[int, float, float]]:
    """Okapi BM25 over the terms' packed postings (idf, ids, tfs, lengths), summed per document in the
    order given; the top k by score then id, with each one's coverage (share of ``weight`` it holds)."""
    c0, c1, kw = K1 * (1 - B), K1 * B / avgdl, K1 + 1
    parts = [(w, np.frombuffer(i, dtype=">i8").astype(np.int64), np.frombuffer(f, dtype=">i4").astype(np.float64),
              np.frombuffer(ln, dtype=">i4").astype(np.float64)) for w, i, f, ln in terms]
    if allowed is not None:
        keep = np.asarray(allowed, dtype=np.int64)
        parts = [(w, ids[m], tf[m], ln[m]) for w, ids, tf, ln in parts for m in [np.isin(ids, keep)]]
    parts = [p for p in parts if p[1].size]
    if not parts:
        return []
    every = np.concatenate([p[1] for p in parts])
    contrib = np.concatenate([tf / (tf + (c0 + c1 * ln)) * (w * kw) for w, _, tf, ln in parts])
    held = np.concatenate([np.full(p[1].size, p[0]) for p in parts])
    lo, hi = int(every.min()), int(every.max())
    base: np.ndarray | None = None
    if hi - lo <= max(4 * every.size, 1 << 20):  # dense ids: one slot per id
        slots, size = every - lo, hi - lo + 1
    else:
        base, slots = np.unique(every, return_inverse=True)
        size = base.size
    # one pass each, in the order of ``terms``: a document's sum runs over its terms in that order
    score = np.bincount(slots, weights=contrib, minlength=size)
    matched = np.bincount(slots, weights=held, minlength=size)
    hit = np.flatnonzero(matched)
    scores = score[hit]
    if hit.size > k:  # the k best and any tied with the k-th; then by score, ties by id
        keep = scores >= np.partition(scores, hit.size - k)[hit.size - k]
        hit, scores = hit[keep], scores[keep]
    ids = hit + lo if base is None else base[hit]
    top = np.lexsort((ids, -scores))[:k]
    return [(int(ids[j]), float(scores[j]), min(1.0, float(matched[hit[j]]) / weight)) for j in top]
