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

Each process keeps the decoded postings of recent terms (``_PostingsCache``), each entry tied to one row version
of its ``lexical_terms`` row; a search sends the versions it holds and gets the bytes of the others, in the same
statement and snapshot, so a write on any server is seen by the next search here (no stale in-process state).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from zhiku.store.pg_indexes import B, K1, MAX_TERM, _all_ids, _ids, _load_scope, _reading, _save_scope, _stat
from zhiku.store.pg_indexes import delete_postings, write_postings

if TYPE_CHECKING:
    from zhiku.config import IndexSettings

log = logging.getLogger(__name__)
Postings = tuple[np.ndarray, np.ndarray, np.ndarray]  # ids (int64), term frequencies, lengths (float64)
# The query's terms in one snapshot with the index statistics: per term its document frequency, version,
# row version (xmin) and packed postings, except where this process already holds that very row version
# (``held``: the bytes are not sent again).
READ = ("SELECT NULL AS term, docs, total_len, NULL AS x, false AS held, NULL AS ids, NULL AS tfs, NULL AS lens "
        "FROM index_stats WHERE kb_id = :s UNION ALL SELECT t.term, t.df, t.ver, t.xmin::text, k.term IS NOT NULL, "
        "CASE WHEN k.term IS NULL THEN t.ids END, CASE WHEN k.term IS NULL THEN t.tfs END, "
        "CASE WHEN k.term IS NULL THEN t.lens END FROM lexical_terms t LEFT JOIN unnest(CAST(:kt AS text[]), "
        "CAST(:kx AS text[]), CAST(:kv AS bigint[])) AS k(term, x, ver) ON k.term = t.term AND k.x = t.xmin::text "
        "AND k.ver = t.ver AND t.ids IS NOT NULL WHERE t.kb_id = :s AND t.term = ANY(CAST(:t AS text[]))")
#: bytes of decoded postings each process keeps per database (0: none; setting
#: ``index.pg_postings_cache_mb``). At 100k chunks a term in every chunk is 2.4 MB; see _PostingsCache.
CACHE_BYTES = 64 << 20
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

    @classmethod
    def configure(cls, settings: "IndexSettings", root: Path | None = None) -> type["PgLexicalIndex"]:
        """The postings cache's size from the settings (one per process and database, as the settings are)."""
        global CACHE_BYTES
        CACHE_BYTES = settings.pg_postings_cache_mb << 20
        return cls

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
        cache = _cache(self.engine)
        held = cache.held(self.scope, terms) if cache is not None else []
        params = {"s": self.scope, "t": terms, "kt": [h[0] for h in held], "kx": [h[1] for h in held],
                  "kv": [h[2] for h in held]}
        with _reading(self.engine) as conn:  # one statement, one snapshot
            rows = conn.execute(text(READ), params).all()
        found, postings, missing = self._postings(rows, cache)
        fresh: dict[str, tuple[bytes, bytes, bytes]] = {}
        if missing:  # terms to pack from their postings: again, in one snapshot with the packing
            with self.engine.connect() as conn, conn.begin():
                conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
                rows = conn.execute(text(READ), params).all()
                found, postings, missing = self._postings(rows, cache)
                if missing:
                    fresh = {str(r[0]): (r[1], r[2], r[3]) for r in conn.execute(text(PACK), {**params, "t": missing})}
        if not found:
            return []
        n, total_len = self._totals(rows)
        if fresh:
            _keep(self.engine, self.scope, [(t, int(found[t][2]), *fresh[t]) for t in missing if t in fresh])
            postings.update({t: _decode(*p) for t, p in fresh.items()})
        df = {t: int(r[1]) for t, r in found.items()}
        idf = {t: float(np.log(1.0 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5))) for t in terms}
        avgdl = total_len / n if total_len else 1.0
        # rarest first, as the built-in sums them
        order = sorted((t for t in terms if t in postings), key=lambda t: -idf[t])
        return _score([(idf[t], *postings[t]) for t in order], sum(idf.values()), avgdl, k, allowed)

    @staticmethod
    def _totals(rows: Sequence[Any]) -> tuple[int, int]:
        stats = [r for r in rows if r[0] is None]
        return (int(stats[0][1]), int(stats[0][2])) if stats else (0, 0)

    def _postings(self, rows: Sequence[Any], cache: "_PostingsCache | None") -> tuple[
            dict[str, Any], dict[str, Postings], list[str]]:
        """From READ's rows: the terms found (by term), the postings at hand (sent, or held by this
        process for that very row version), and the terms whose postings must be packed."""
        if self._totals(rows)[0] <= 0:
            return {}, {}, []
        found = {str(r[0]): r for r in rows if r[0] is not None and int(r[1]) > 0}
        postings: dict[str, Postings] = {}
        for t, r in found.items():
            got = cache.get(self.scope, t, r[3], int(r[2])) if cache is not None and r[4] else None
            if got is not None:
                postings[t] = got
            elif r[5] is not None:
                postings[t] = _decode(r[5], r[6], r[7])
                if cache is not None:  # this row version's postings: valid until the row changes
                    cache.put(self.scope, t, r[3], int(r[2]), postings[t])
        return found, postings, [t for t in found if t not in postings]

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


class _PostingsCache:
    """Decoded postings of recently searched terms, each entry valid for exactly one row version of its
    ``lexical_terms`` row: the row's ``xmin`` (the transaction that wrote it) and ``ver``. Every write of a
    term (any process, any server) bumps ``ver`` and writes a new row version, so a search, reading the
    versions in its own snapshot (``READ``), uses an entry only when it is that snapshot's very row and
    reads the bytes otherwise: nothing seen is older than the database. Least recently used entries go
    beyond ``CACHE_BYTES``."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size = limit, 0
        self.entries: OrderedDict[tuple[str, str], tuple[str, int, Postings, int]] = OrderedDict()
        self.lock = threading.Lock()

    def held(self, scope: str, terms: Sequence[str]) -> list[tuple[str, str, int]]:
        with self.lock:
            return [(t, e[0], e[1]) for t in terms for e in [self.entries.get((scope, t))] if e is not None]

    def get(self, scope: str, term: str, xmin: str, ver: int) -> Postings | None:
        with self.lock:
            e = self.entries.get((scope, term))
            if e is None or e[0] != xmin or e[1] != ver:
                return None
            self.entries.move_to_end((scope, term))
            return e[2]

    def put(self, scope: str, term: str, xmin: str, ver: int, postings: Postings) -> None:
        nbytes = sum(a.nbytes for a in postings)
        if nbytes > self.limit // 4:
            return
        with self.lock:
            old = self.entries.pop((scope, term), None)
            self.size += nbytes - (old[3] if old else 0)
            self.entries[(scope, term)] = (xmin, ver, postings, nbytes)
            while self.size > self.limit and self.entries:
                self.size -= self.entries.popitem(last=False)[1][3]


_caches: dict[str, _PostingsCache] = {}
_caches_lock = threading.Lock()


def _cache(engine: Engine) -> _PostingsCache | None:
    """This process's postings cache for ``engine``'s database (None when CACHE_BYTES is 0)."""
    if CACHE_BYTES <= 0:
        return None
    key = engine.url.render_as_string(hide_password=True)
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None or cache.limit != CACHE_BYTES:
            cache = _caches[key] = _PostingsCache(CACHE_BYTES)
        return cache


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


def _decode(ids: bytes, tfs: bytes, lens: bytes) -> Postings:
    """A term's packed postings as arrays by ascending id: ids, term frequencies, document lengths (read-only)."""
    out = (np.frombuffer(ids, dtype=">i8").astype(np.int64), np.frombuffer(tfs, dtype=">i4").astype(np.float64),
           np.frombuffer(lens, dtype=">i4").astype(np.float64))
    if out[0].size > 1 and not bool(np.all(out[0][1:] > out[0][:-1])):  # by id (PACK reads them so, as a rule)
        order = np.argsort(out[0], kind="stable")
        out = (out[0][order], out[1][order], out[2][order])
    for a in out:
        a.setflags(write=False)
    return out


def _within(ids: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Positions (or a mask) of the sorted ``ids`` that are in the sorted ``keep``: a few allowed ids (the
    coverage of a search's hits) are looked up, not the whole list scanned."""
    if keep.size * 16 >= ids.size or not ids.size:
        return np.isin(ids, keep, assume_unique=True)
    pos = np.minimum(np.searchsorted(ids, keep), ids.size - 1)
    return pos[ids[pos] == keep]


PRUNE_MIN_POSTINGS = 200_000  # below this many postings in all, every list is scored (pruning saves little)


def _score(terms: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]], weight: float, avgdl: float, k: int,
           allowed: np.ndarray | None) -> list[tuple[int, float, float]]:
    """Okapi BM25 over the terms' postings (idf, ids, tfs, lengths: ``_decode``), summed per document in the
    order given; the top k by score then id, with each one's coverage (share of ``weight`` it holds).

    Where the lists are long (a common word's, at a million chunks) the commonest terms, last in the order,
    are scored only for the documents of the others once that cannot change the top k (MaxScore, as the
    built-in BM25 does): a term adds less than ``idf * (k1 + 1)`` to any score, so when those terms' bounds
    sum below the k-th best score of the rarer terms alone, a document without a rarer term cannot reach
    the top k. The sums run in the same order, so every score is the same float as without pruning."""
    c0, c1, kw = K1 * (1 - B), K1 * B / avgdl, K1 + 1
    parts = list(terms)
    if allowed is not None:
        keep = np.unique(np.asarray(allowed, dtype=np.int64))
        parts = [(w, ids[m], tf[m], ln[m]) for w, ids, tf, ln in parts for m in [_within(ids, keep)]]
    parts = [p for p in parts if p[1].size]
    if not parts:
        return []
    if allowed is None and len(parts) > 1 and sum(p[1].size for p in parts) >= PRUNE_MIN_POSTINGS:
        pruned = _score_pruned(parts, weight, (c0, c1, kw), k)
        if pruned is not None:
            return pruned
    return _top(*_sums(parts, (c0, c1, kw)), weight, k)


def _sums(parts: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]], consts: tuple[float, float, float]
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, scores, matched weight) of every document in the lists, summed in the lists' order."""
    c0, c1, kw = consts
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
    ids = hit + lo if base is None else base[hit]
    return ids, score[hit], matched[hit]


def _top(ids: np.ndarray, scores: np.ndarray, matched: np.ndarray, weight: float, k: int
         ) -> list[tuple[int, float, float]]:
    """The k best by score, ties by id, with coverage."""
    if ids.size > k:  # the k best and any tied with the k-th; then by score, ties by id
        keep = scores >= np.partition(scores, ids.size - k)[ids.size - k]
        ids, scores, matched = ids[keep], scores[keep], matched[keep]
    top = np.lexsort((ids, -scores))[:k]
    return [(int(ids[j]), float(scores[j]), min(1.0, float(matched[j]) / weight)) for j in top]


def _score_pruned(parts: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]], weight: float,
                  consts: tuple[float, float, float], k: int) -> list[tuple[int, float, float]] | None:
    """MaxScore over the lists (``_score``); None when the bound does not allow it (score them all)."""
    _, _, kw = consts
    sizes = [p[1].size for p in parts]
    total = sum(sizes)
    cut, tail = len(parts), 0  # the commonest terms, last in the order, holding half the postings or more
    while cut > 1 and tail * 2 < total:
        cut -= 1
        tail += sizes[cut]
    head, rest = parts[:cut], parts[cut:]
    ids, scores, matched = _sums(head, consts)
    if ids.size < k:
        return None
    theta = float(np.partition(scores, ids.size - k)[ids.size - k])  # the k-th best of the rarer terms alone
    bound = sum(w * kw for w, *_ in rest)  # the most the commoner terms add to any score
    if not bound < theta:
        return None
    alive = scores + bound >= theta  # a document below this cannot reach the k-th best with every term
    ids, scores, matched = ids[alive], scores[alive].copy(), matched[alive].copy()
    c0, c1, _ = consts
    for w, t_ids, tf, ln in rest:  # in order, so each sum is the same float as in one pass
        pos = np.searchsorted(t_ids, ids)
        pos = np.minimum(pos, t_ids.size - 1)
        has = t_ids[pos] == ids
        at = pos[has]
        scores[has] += tf[at] / (tf[at] + (c0 + c1 * ln[at])) * (w * kw)
        matched[has] += w
    return _top(ids, scores, matched, weight, k)
