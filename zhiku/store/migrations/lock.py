"""One migrator at a time per database: the server and a CLI started together must not both
upgrade the same home.

SQLite: an exclusive ``flock`` on a file beside the database (``zhiku.db.migrate.lock``); the
file stays, only the lock comes and goes. PostgreSQL: a session-level advisory lock, which the
server drops by itself if the process dies. Other databases get no lock (zhiku ships neither).
"""

from __future__ import annotations

import fcntl
import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# pg_advisory_lock takes a bigint; the same one in every zhiku process
PG_LOCK_KEY = zlib.crc32(b"zhiku.store.migrations")


def sqlite_lock_path(engine: Engine) -> Path | None:
    """The lock file beside a file database; None for an in-memory one (one process only)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).with_name(Path(database).name + ".migrate.lock")


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Held while a process checks and upgrades the schema; blocks until the other is done."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
                conn.commit()
        return
    path = sqlite_lock_path(engine) if dialect == "sqlite" else None
    if path is None:
        if dialect != "sqlite":
            log.warning("no migration lock for %s databases: open one zhiku at a time while it upgrades", dialect)
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
