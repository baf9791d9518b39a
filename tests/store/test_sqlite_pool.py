"""A SQLite home keeps its connections open for the next burst of requests.

SQLAlchemy's default pool keeps five and closes every connection beyond them when it is returned, so
each burst of simultaneous chats opened (and ran the pragmas for) a connection per query again, and
past fifteen at once a query waited for a free one."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import event, text

from zhiku.store.engines import SQLITE_POOL_SIZE, make_engine

READERS = 20  # more than the five connections SQLAlchemy keeps by default


def _burst(engine, readers: int) -> None:
    """``readers`` threads each holding a connection at the same time (a burst of requests)."""
    all_in = threading.Barrier(readers)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            with engine.connect() as conn:
                all_in.wait(timeout=30)  # every reader holds its connection at once
                assert conn.execute(text("select count(*) from t")).scalar_one() == 3
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


def test_a_second_burst_of_readers_opens_no_new_connection(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'zhiku.db'}")
    opened: list[object] = []
    event.listen(engine, "connect", lambda conn, record: opened.append(conn))
    with engine.begin() as conn:
        conn.execute(text("create table t (x integer)"))
        conn.execute(text("insert into t values (1), (2), (3)"))
    _burst(engine, READERS)
    first = len(opened)
    assert first >= READERS  # each reader held a connection of its own
    _burst(engine, READERS)
    assert len(opened) == first  # the second burst found them all open
    assert READERS <= SQLITE_POOL_SIZE
    engine.dispose()


def test_connections_are_set_up_as_zhiku_needs_them(tmp_path: Path) -> None:
    """Every pooled connection has the pragmas (write-ahead log, foreign keys, busy timeout)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'zhiku.db'}")
    held = [engine.connect() for _ in range(READERS)]
    try:
        for conn in held:
            assert conn.execute(text("pragma journal_mode")).scalar_one() == "wal"
            assert conn.execute(text("pragma foreign_keys")).scalar_one() == 1
            assert conn.execute(text("pragma busy_timeout")).scalar_one() == 30000
    finally:
        for conn in held:
            conn.close()
        engine.dispose()
