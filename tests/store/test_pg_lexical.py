"""pg_bm25's packed postings (lexical_terms): a search reads each query term as one row, filled by an
earlier search and cleared by any write of the term, so the hits and scores stay those of the built-in
BM25 however writes and searches interleave; a packed row built before a write is never stored after it;
postings written before the table existed are counted into it (migration 0009)."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from zhiku.store import pg_lexical
from zhiku.store.engines import open_engine
from zhiku.store.pg_indexes import drop_scope
from zhiku.store.lexical import BM25Index
from zhiku.store.pg_lexical import PgLexicalIndex
from zhiku.store.pg_schema import create_tables


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = open_engine(postgres_url)
    yield engine
    engine.dispose()


def _docs(n: int, salt: str = "") -> dict[int, list[str]]:
    return {i: ["common", f"c{i % 3}", f"mid{i % 50}", f"r{i}{salt}", *(["mid7"] * (i % 4))] for i in range(n)}


def _same(ours: PgLexicalIndex, builtin: BM25Index, query: list[str], k: int,
          allowed: np.ndarray | None = None) -> None:
    got, want = ours.search(query, k, allowed), builtin.search(query, k, allowed)
    assert [i for i, _, _ in got] == [i for i, _, _ in want], query
    assert np.allclose([s for _, s, _ in got], [s for _, s, _ in want])
    assert np.allclose([c for _, _, c in got], [c for _, _, c in want])


def _packed(engine: Engine, scope: str) -> dict[str, tuple[int, int, bool]]:
    with engine.connect() as conn:
        return {t: (df, ver, ids is not None) for t, df, ver, ids in conn.execute(text(
            "SELECT term, df, ver, ids FROM lexical_terms WHERE kb_id = :s"), {"s": scope})}


QUERIES = ((["mid7", "common", "c1"], 5), (["r11", "mid11", "c2", "missing"], 3), (["common", "c0"], 5),
           (["common"], 2000))


def test_searches_fill_writes_clear_and_answers_stay_the_built_in_s(pg_engine: Engine) -> None:
    docs = _docs(2000)
    ours, builtin = PgLexicalIndex.bind(pg_engine)(), BM25Index()
    for index in (ours, builtin):
        index.add(list(docs), list(docs.values()))
    assert not any(filled for _, _, filled in _packed(pg_engine, ours.scope).values())
    for query, k in QUERIES:
        _same(ours, builtin, query, k)
    packed = _packed(pg_engine, ours.scope)
    assert packed["common"] == (2000, 0, True) and packed["mid7"][2] and not packed["r5"][2]
    for query, k in QUERIES:  # now from the packed rows
        _same(ours, builtin, query, k)
        _same(ours, builtin, query, k, np.arange(0, 2000, 3, dtype=np.int64))
    for index in (ours, builtin):  # remove some, replace some (new tokens), add new ones
        index.remove(list(range(0, 40)))
        index.add([41, 42, 5000], [["mid7", "fresh"], ["common"], ["common", "mid7", "mid7", "c1"]])
    after = _packed(pg_engine, ours.scope)
    assert after["common"][0] == 2000 - 40 - 1 + 1 and after["common"][1] > 0 and not after["common"][2]
    assert after["fresh"] == (1, 0, False) and "r3" not in after  # a term no document holds is gone
    # c2: docs 2..38 step 3 removed, then 41 replaced (tokens without it): one version per write
    assert after["c2"] == (packed["c2"][0] - 14, packed["c2"][1] + 2, False)
    for query, k in (*QUERIES, (["fresh", "mid7"], 10)):
        _same(ours, builtin, query, k)


def test_a_packed_row_built_before_a_write_is_not_kept(pg_engine: Engine) -> None:
    docs = _docs(300)
    ours = PgLexicalIndex.bind(pg_engine)()
    ours.add(list(docs), list(docs.values()))
    with pg_engine.connect() as conn:
        old = conn.execute(text(pg_lexical.PACK), {"s": ours.scope, "t": ["common"]}).one()
    ours.add([900], [["common"]])  # the term changes after it was packed
    pg_lexical._keep(pg_engine, ours.scope, [("common", 0, old[1], old[2], old[3])])
    assert _packed(pg_engine, ours.scope)["common"] == (301, 1, False)
    builtin = BM25Index()
    builtin.add([*docs, 900], [*docs.values(), ["common"]])
    _same(ours, builtin, ["common", "mid3"], 400)


def test_postings_written_before_the_table_are_counted_into_it(pg_engine: Engine) -> None:
    docs = _docs(500, salt="x")
    ours = PgLexicalIndex.bind(pg_engine)()
    ours.add(list(docs), list(docs.values()))
    with pg_engine.begin() as conn:  # a database from before migration 0009
        conn.execute(text("DROP TABLE lexical_terms"))
    with pg_engine.begin() as conn:
        assert create_tables(conn)
    with pg_engine.connect() as conn:
        differ = conn.execute(text(
            "SELECT count(*) FROM (SELECT term, count(*) AS n FROM lexical_postings WHERE kb_id = :s GROUP BY term) p "
            "FULL JOIN (SELECT term, df FROM lexical_terms WHERE kb_id = :s) t ON p.term = t.term "
            "WHERE p.n IS DISTINCT FROM t.df"), {"s": ours.scope}).scalar()
    assert differ == 0 and _packed(pg_engine, ours.scope)["common"] == (500, 0, False)
    builtin = BM25Index()
    builtin.add(list(docs), list(docs.values()))
    _same(ours, builtin, ["common", "mid7", "r7x"], 5)


def test_postings_this_process_holds_never_hide_another_servers_write(postgres_url: str) -> None:
    """Two connection pools on one database, as two servers: after the first has searched (and holds the
    terms' postings), the second's writes are in the first's very next answer, also when a KB's terms are
    dropped and written again from version 0 (the row version, not ``ver`` alone, identifies the postings)."""
    first, second = open_engine(postgres_url), open_engine(postgres_url)
    try:
        docs = _docs(600)
        ours, builtin = PgLexicalIndex.bind(first)(), BM25Index()
        other = PgLexicalIndex(second, ours.scope)
        ours.add(list(docs), list(docs.values()))
        builtin.add(list(docs), list(docs.values()))
        query, untouched = ["common", "mid7", "c1"], ["c0", "mid3"]  # the second: no write below changes them
        for _ in range(3):  # packed by the first search, then held here
            _same(ours, builtin, query, 20)
            _same(ours, builtin, untouched, 20)
        cache = pg_lexical._cache(first)
        assert cache is not None and {t for t, _, _ in cache.held(ours.scope, query + untouched)} == {*query, *untouched}
        other.add([900, 901], [["common", "mid7", "mid7", "mid7"], ["c1", "c1"]])
        builtin.add([900, 901], [["common", "mid7", "mid7", "mid7"], ["c1", "c1"]])
        other.remove([7, 11])
        builtin.remove([7, 11])
        _same(ours, builtin, query, 20)
        _same(ours, builtin, ["common"], 700)
        with second.begin() as conn:  # the KB emptied and written again: every term from version 0
            drop_scope(conn, ours.scope)
        fresh = {i: ["common", "mid7", "mid3"] if i % 2 else ["c1", "c0", "c0"] for i in range(50)}
        other.add(list(fresh), list(fresh.values()))
        again = BM25Index()
        again.add(list(fresh), list(fresh.values()))
        assert _packed(first, ours.scope)["c0"][1] == 0  # the version it had when this process took it
        for _ in range(2):  # packed again, then held
            _same(ours, again, query, 20)
            _same(ours, again, untouched, 20)
    finally:
        first.dispose()
        second.dispose()


def test_the_postings_cache_is_sized_by_the_settings(postgres_url: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``index.pg_postings_cache_mb`` sizes each process's cache (a million-chunk KB's common terms are
    megabytes each); 0 keeps none, and searches answer the same from the database alone."""
    from zhiku import Zhiku, load_settings

    monkeypatch.setattr(pg_lexical, "CACHE_BYTES", pg_lexical.CACHE_BYTES)  # restored after the test

    def app(mb: int, name: str) -> Zhiku:
        return Zhiku(load_settings(home=tmp_path / name, environ={}, overrides={
            "database_url": postgres_url, "embedding": {"default": "static"},
            "index": {"vector": "pgvector", "lexical": "pg_bm25", "pg_postings_cache_mb": mb}}))

    docs = ["年假 十五天 员工 入职", "病假 三天 医院 证明", "报销 发票 三十天 内"]
    with app(8, "cached") as zk:
        zk.create_kb("k")
        for i, d in enumerate(docs):
            (tmp_path / f"{i}.txt").write_text(d, encoding="utf-8")
        zk.add_files("k", [tmp_path / f"{i}.txt" for i in range(len(docs))])
        hits = [h.chunk_id for h in zk.search(["k"], "年假 员工", mode="lexical")]
        assert hits
        assert [h.chunk_id for h in zk.search(["k"], "年假 员工", mode="lexical")] == hits  # from the packed rows
        cache = pg_lexical._cache(zk.engine)
        assert cache is not None and cache.limit == 8 << 20
        assert cache.entries  # the search's terms were kept
    with app(0, "uncached") as zk:
        assert [h.chunk_id for h in zk.search(["k"], "年假 员工", mode="lexical")] == hits
        assert pg_lexical._cache(zk.engine) is None
