"""How zhiku connects to its metadata database (``zhiku.store.db`` holds the schema): the engine with its
pool for SQLite or a database server, SQLite's pragmas, and opening a home's database at its newest schema.
"""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    _use_wal(cur)
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _use_wal(cur: sqlite3.Cursor, wait_s: float = 30.0) -> None:
    """Switch the database to write-ahead logging (once: the mode stays in the file). Switching
    needs the database to itself for a moment, and SQLite reports "locked" at once instead of
    waiting when another process holds it (two processes opening a new home together): retry."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


SQLITE_POOL_SIZE = 32  # connections kept open (a request's queries use one at a time)
SQLITE_POOL_OVERFLOW = 64  # more at once are opened and closed again
SERVER_POOL_SIZE = 10  # a database server's defaults (settings database_pool_size, database_pool_overflow)
SERVER_POOL_OVERFLOW = 20


def make_engine(url: str, timeout_s: float = 10.0, pool_size: int = SERVER_POOL_SIZE,
                pool_overflow: int = SERVER_POOL_OVERFLOW) -> Engine:
    """An engine for ``url`` with zhiku's connection settings, the schema left as it is.

    ``timeout_s`` (setting ``database_timeout_s``) bounds the wait for a database server: to
    connect, and for a free connection of the pool; a server that is down fails at once.
    ``pool_size`` and ``pool_overflow`` (settings ``database_pool_size``, ``database_pool_overflow``)
    size the pool of a database server: connections kept open, and more opened at once under a burst
    and closed after use. SQLite keeps its own sizes (``SQLITE_POOL_SIZE``, ``SQLITE_POOL_OVERFLOW``)."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        # SQLAlchemy's default pool keeps 5 connections and closes every one beyond them on return, so
        # a burst of chats opened and closed a connection per query (each opening runs the pragmas
        # below) and past 15 at once waited for a free one; SQLite connections are cheap to keep
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_OVERFLOW)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, object] = {}
    if url.startswith("postgresql"):  # libpq takes whole seconds, at least 2
        connect_args["connect_timeout"] = max(2, math.ceil(timeout_s))
    # on PostgreSQL each connection is a server process (fork + authentication, a few ms): the default
    # pool (5 kept, 10 more) opened one per query beyond 5 in a burst and made a 16th holder wait; every
    # process of every server and worker has its own pool, and together they must stay under the
    # server's max_connections (docs/deploy.md), so the sizes are settings
    engine = create_engine(url, pool_timeout=timeout_s, pool_size=pool_size, max_overflow=pool_overflow,
                           connect_args=connect_args)
    _ping_unless_recent(engine)
    return engine


RECENT_S = 1.0  # a connection returned to the pool this recently is handed out again without a ping
_USED = "zhiku_used"  # where a pooled connection's last use is kept (its record's info)


def _ping_unless_recent(engine: Engine) -> None:
    """Check a database server's pooled connection before handing it out, unless it was in use within
    ``RECENT_S``: a connection the server closed (a restart, a failover, an idle timeout) is then
    replaced instead of failing the request. SQLAlchemy's ``pool_pre_ping`` pings at every checkout,
    and a search takes several: on PostgreSQL that was a round trip per checkout, ~7 per hybrid search.
    A server that goes away within ``RECENT_S`` of a connection's last use fails that one request
    (503), and the pool is then renewed."""
    from sqlalchemy import exc

    dialect = engine.dialect

    def used(_dbapi_conn: object, record: Any) -> None:
        record.info[_USED] = time.monotonic()

    def checkout(dbapi_conn: Any, record: Any, _proxy: object) -> None:
        last = record.info.get(_USED)
        if last is not None and time.monotonic() - last < RECENT_S:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_conn, None):
                raise exc.DisconnectionError(f"a pooled connection was closed by the server: {err}") from err
            raise

    event.listen(engine, "connect", used)
    event.listen(engine, "checkin", used)
    event.listen(engine, "checkout", checkout)


def open_engine(url: str, timeout_s: float = 10.0, pool_size: int = SERVER_POOL_SIZE,
                pool_overflow: int = SERVER_POOL_OVERFLOW) -> Engine:
    """Open the database at ``url`` and bring its schema to head (``zhiku.store.migrations``)."""
    from zhiku.store.db_errors import database_error
    from zhiku.store.migrations import migrate  # Alembic loads only when the schema is not at head

    try:
        engine = make_engine(url, timeout_s, pool_size, pool_overflow)
    except Exception as exc:  # a malformed URL, an unknown dialect, a missing driver: one line, no traceback
        raise (database_error(url, exc) or exc) from exc
    try:
        migrate(engine)
    except BaseException as exc:
        engine.dispose()
        problem = database_error(url, exc) if isinstance(exc, Exception) else None
        if problem is not None:
            raise problem from exc
        raise
    return engine
