"""One migrator at a time per database: the server and a CLI started together must not both
upgrade the same home.

SQLite: an exclusive ``flock`` on a file beside the database (``zhiku.db.migrate.lock``); the
file stays, only the lock comes and goes. Where there is no ``fcntl`` (Windows), or with
``ZHIKU_PORTABLE=1`` (how the tests run it on Linux), the portable lock instead: a file created
only if absent (``zhiku.db.migrate.held``, holding the owner's process id), kept fresh by its
owner every few seconds and removed when it is done; a file left by a process that died is taken
over once it has not been touched for ``STALE_AFTER_S``. PostgreSQL: a session-level advisory
lock, which the server drops by itself if the process dies. Other databases get no lock (zhiku
ships neither).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# pg_advisory_lock takes a bigint; the same one in every zhiku process
PG_LOCK_KEY = zlib.crc32(b"zhiku.store.migrations")
STALE_AFTER_S = 60.0  # a portable lock file untouched this long was left by a process that died
HEARTBEAT_S = 5.0  # how often its owner touches it


def portable_requested() -> bool:
    """``ZHIKU_PORTABLE=1``: use the portable fallbacks (what Windows runs) on Linux too."""
    return os.environ.get("ZHIKU_PORTABLE", "").strip().lower() in ("1", "true", "yes")


def has_flock() -> bool:
    try:
        import fcntl  # noqa: F401
    except ImportError:  # Windows
        return False
    return True


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
    with file_lock(path):
        yield


@contextmanager
def file_lock(path: Path, portable: bool | None = None) -> Iterator[None]:
    """An exclusive lock between processes on ``path``: ``flock`` where the system has it, else (or
    with ``portable=True``, or ZHIKU_PORTABLE=1) the portable lock file beside it."""
    if portable is None:
        portable = portable_requested() or not has_flock()
    if portable:
        with portable_lock(path.with_name(path.name.removesuffix(".lock") + ".held")):
            yield
        return
    import fcntl

    with path.open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextmanager
def portable_lock(held: Path, stale_after_s: float = STALE_AFTER_S, poll_s: float = 0.05) -> Iterator[None]:
    """Held while ``held`` exists and is ours: created only if absent (any system, any file system
    Python can create a file on), touched every HEARTBEAT_S while held, removed at the end."""
    announced = False
    while True:
        try:
            fd = os.open(held, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                age = time.time() - held.stat().st_mtime
            except FileNotFoundError:  # released just now
                continue
            if age > stale_after_s:
                log.warning("taking over %s: its owner has not touched it for %.0f s (it died)", held, age)
                held.unlink(missing_ok=True)
                continue
            if not announced:
                log.info("waiting for another zhiku process to finish upgrading the database (%s)", held)
                announced = True
            time.sleep(poll_s)
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()}\n")
        break
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(HEARTBEAT_S):
            try:
                os.utime(held)
            except OSError:
                return

    beat = threading.Thread(target=heartbeat, name="zhiku-migration-lock", daemon=True)
    beat.start()
    try:
        yield
    finally:
        done.set()
        beat.join()
        held.unlink(missing_ok=True)
