"""Bringing a database to head: the steps ``zhiku.store.migrations`` describes."""

from __future__ import annotations

import ast
import logging
import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata as package_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from zhiku.errors import ConfigError
from zhiku.store.migrations.lock import migration_lock

if TYPE_CHECKING:  # Alembic is imported only to upgrade (or to answer about its scripts), not at every start
    from alembic.config import Config
    from alembic.script import ScriptDirectory

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
BASELINE = "0001"  # zhiku 0.1.0's schema (versions/0001_baseline.py)
# a database holding one of these but no alembic_version was made before migrations existed
_PRE_MIGRATION_TABLES = {"kbs", "schema_info"}


@dataclass(frozen=True)
class MigrationResult:
    """What opening a database did to its schema."""

    before: str | None  # the revision found; None for a fresh database or a 0.1.0 home
    after: str  # head
    adopted: bool  # a home made before migrations (zhiku 0.1.0) was taken over
    ran: bool  # this process upgraded it (False: it was at head, or another process upgraded it)


def alembic_config(extra_locations: Sequence[str | Path] = ()) -> Config:
    """Alembic's configuration, built in code: this package's scripts, plus ``extra_locations``
    (folders of further revisions; tests use one to play a future release)."""
    from alembic.config import Config

    cfg = Config()
    locations = os.pathsep.join(str(p) for p in [VERSIONS_DIR, *extra_locations])
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", locations.replace("%", "%%"))
    return cfg


def _head(script: ScriptDirectory) -> str:
    head = script.get_current_head()  # several heads raise: two branches need a merge revision
    if head is None:
        raise ConfigError("zhiku ships no schema migrations: the package is damaged, reinstall it")
    return head


def _script(extra_locations: Sequence[str | Path] = ()) -> "ScriptDirectory":
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(extra_locations))


def head_revision(extra_locations: Sequence[str | Path] = ()) -> str:
    return _head(_script(extra_locations))


# Alembic's own test for a revision script's file name (alembic.script.base: no __init__, no editor backup)
_SCRIPT_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")


def _literal(node: ast.AST) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ...  # not a literal: only Alembic can say


def quick_head(extra_locations: Sequence[str | Path] = ()) -> str | None:
    """The head revision read from the scripts' ``revision`` and ``down_revision`` assignments
    (parsed, not imported), without importing Alembic (a tenth of ``zhiku start``'s imports); None
    when any script is not that plain (then only Alembic's own reading may be trusted). A database
    already at this head needs nothing else from Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for folder in [VERSIONS_DIR, *map(Path, extra_locations)]:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return None
        for name in names:
            if not _SCRIPT_FILE.match(name):
                continue
            try:
                tree = ast.parse((folder / name).read_bytes(), filename=str(folder / name))
            except (OSError, SyntaxError, ValueError):
                return None
            found: dict[str, object] = {}
            for node in tree.body:  # `revision = "0009"` or `revision: str = "0009"`, at the top level
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target, value = node.targets[0], node.value
                elif isinstance(node, ast.AnnAssign) and node.value is not None:
                    target, value = node.target, node.value
                else:
                    continue
                if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                    found[target.id] = _literal(value)
            rev, down = found.get("revision"), found.get("down_revision", ...)
            if not isinstance(rev, str) or rev in revisions:
                return None
            if isinstance(down, str):
                parents.add(down)
            elif isinstance(down, (tuple, list)) and all(isinstance(d, str) for d in down):
                parents.update(down)
            elif down is not None:
                return None
            revisions.add(rev)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _revisions(conn: Connection, tables: set[str]) -> tuple[str, ...]:
    # read directly, not through Alembic's MigrationContext, which logs two lines at every start
    if "alembic_version" not in tables:
        return ()
    return tuple(sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars()))


def current_revisions(conn: Connection) -> tuple[str, ...]:
    """The revisions stamped in the database (empty before its first migration)."""
    return _revisions(conn, set(inspect(conn).get_table_names()))


def _state(conn: Connection) -> tuple[tuple[str, ...], bool]:
    tables = set(inspect(conn).get_table_names())
    return _revisions(conn, tables), bool(_PRE_MIGRATION_TABLES & tables)


def _zhiku_version() -> str:
    try:
        return package_metadata.version("zhiku")
    except package_metadata.PackageNotFoundError:
        return "unknown"


def _refuse_unknown(current: Sequence[str], script: ScriptDirectory, engine: Engine) -> None:
    known = {s.revision for s in script.walk_revisions()}
    unknown = [rev for rev in current if rev not in known]
    if unknown:
        where = engine.url.render_as_string(hide_password=True)
        raise ConfigError(
            f"the database {where} is at schema revision {', '.join(unknown)}, which this zhiku "
            f"({_zhiku_version()}) does not know: a newer zhiku has upgraded it. Run that newer zhiku "
            "(or a later one) on this home, or restore the backup you took before upgrading; zhiku never "
            "downgrades a database by itself (docs/migrations.md)",
            revision=unknown[0], database=where)


@contextmanager
def _migration_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for the whole upgrade, committed only if every step ran.

    PostgreSQL's DDL is transactional as it is. SQLite's driver would run DDL outside any
    transaction, so here the transaction is begun explicitly (BEGIN IMMEDIATE: the write lock
    up front). SQLite's foreign keys are off meanwhile: batch mode rebuilds a table by copy, drop
    and rename, and dropping ``files`` with them on would cascade-delete every chunk. They are
    checked (``foreign_key_check``) before the commit and on again afterwards.
    """
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        driver = conn.connection.driver_connection
        if not isinstance(driver, sqlite3.Connection):
            raise RuntimeError(f"SQLite through {type(driver).__name__}: zhiku migrates through the sqlite3 module")
        saved = driver.isolation_level
        driver.isolation_level = None  # we say when transactions begin
        try:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"a migration broke foreign keys (table, row, parent): {broken[:5]}")
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        finally:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()
            driver.isolation_level = saved


def migrate(engine: Engine, extra_locations: Sequence[str | Path] = ()) -> MigrationResult:
    """Bring the database to head (see ``zhiku.store.migrations``); cheap when it already is:
    the revision table is read with plain SQL and compared with :func:`quick_head`, and Alembic is
    imported only when they differ (to upgrade, or to say what is wrong)."""
    with engine.connect() as conn:
        current, _ = _state(conn)
    quick = quick_head(extra_locations)
    if quick is not None and current == (quick,):
        return MigrationResult(quick, quick, adopted=False, ran=False)
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = alembic_config(extra_locations)
    script = ScriptDirectory.from_config(cfg)
    head = _head(script)
    if current == (head,):
        return MigrationResult(head, head, adopted=False, ran=False)
    _refuse_unknown(current, script, engine)
    with migration_lock(engine), _migration_transaction(engine) as conn:
        current, has_tables = _state(conn)  # again: another process may have upgraded it meanwhile
        _refuse_unknown(current, script, engine)
        before = current[0] if current else None
        if current == (head,):
            return MigrationResult(before, head, adopted=False, ran=False)
        adopted = not current and has_tables
        if adopted:
            log.info("adopting a database made before schema migrations (zhiku 0.1.0) as revision %s", BASELINE)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    log.info("database schema upgraded from %s to %s", before or ("0.1.0" if adopted else "nothing"), head)
    return MigrationResult(before, head, adopted=adopted, ran=True)
