"""Read-only SQL, by construction: the connection refuses to write, not a check of the query's text.

SQLite (the in-memory tables of a KB's CSV/XLSX files, and an admin's SQLite database):

- ``PRAGMA query_only = ON``, then an authorizer (``sqlite3.Connection.set_authorizer``) that allows
  only reading: SELECT, reading the columns of allowed tables, functions (but not the few that reach
  outside the database) and recursive CTEs. Every other action — INSERT, UPDATE, DELETE, CREATE, DROP,
  ALTER, PRAGMA, ATTACH, DETACH, transactions, savepoints, ANALYZE, VACUUM — is denied while the
  statement is prepared, so a write disguised in a CTE, behind a comment or in any other spelling
  never runs. Reading a table outside the allow-list is denied the same way.
- Python's ``sqlite3`` prepares one statement per ``execute``: a second statement is an error.
- A progress handler stops the statement after ``timeout_s`` (or when the answer is cancelled), at
  most ``row_limit`` rows are fetched, and no string or blob a query builds may pass 1 MB
  (``SQLITE_LIMIT_LENGTH``), so ``randomblob`` cannot fill the memory.
- An admin's database file is opened with ``mode=ro`` as well.

PostgreSQL (an admin's database): each query runs on a fresh connection in a ``READ ONLY``
transaction that is always rolled back (the server refuses every write in it, a data-modifying CTE
included), with ``statement_timeout``; the query goes over the extended
protocol (psycopg's ``binary=True``), which the server refuses to run several statements through, so
``SELECT 1; COMMIT; DELETE ...`` cannot leave the read-only transaction; it runs as a server-side
cursor (``DECLARE ... CURSOR FOR``: a SELECT or VALUES only, no data-modifying WITH), so only
``row_limit + 1`` rows ever come back, however many match. The plan (``EXPLAIN``) must read only allow-listed tables
and modify none. The plan check does not see tables read inside functions (``query_to_xml``...): give
the connection a role that may read only the allowed tables, as its docs say.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from zhiku.agent.base import ToolError


class SqlRefused(ToolError):
    """The database refused the query: a write, a PRAGMA/ATTACH, a table outside the allow-list,
    several statements, too slow, or invalid SQL. The reason is shown to the model."""

    kind = "sql_refused"


@dataclass
class QueryResult:
    sql: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False  # more rows than row_limit matched
    tables: list[str] = field(default_factory=list)


# -- SQLite ----------------------------------------------------------------------------------------

# functions that reach outside the database (absent from stock builds, denied should a build have them)
_DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "zipfile",
                               "sqlar_compress", "sqlar_uncompress", "shell"})
_ALLOWED_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                              getattr(sqlite3, "SQLITE_RECURSIVE", 33)})


_ACTIONS = {  # sqlite3's authorizer action codes, as the messages name them
    1: "CREATE INDEX", 2: "CREATE TABLE", 3: "CREATE TEMP INDEX", 4: "CREATE TEMP TABLE", 5: "CREATE TEMP TRIGGER",
    6: "CREATE TEMP VIEW", 7: "CREATE TRIGGER", 8: "CREATE VIEW", 9: "DELETE", 10: "DROP INDEX", 11: "DROP TABLE",
    12: "DROP TEMP INDEX", 13: "DROP TEMP TABLE", 14: "DROP TEMP TRIGGER", 15: "DROP TEMP VIEW", 16: "DROP TRIGGER",
    17: "DROP VIEW", 18: "INSERT", 19: "PRAGMA", 22: "a transaction", 23: "UPDATE", 24: "ATTACH", 25: "DETACH",
    26: "ALTER TABLE", 27: "REINDEX", 28: "ANALYZE", 29: "CREATE VIRTUAL TABLE", 30: "DROP VIRTUAL TABLE",
    32: "SAVEPOINT",
}


def _action_name(code: int) -> str:
    return _ACTIONS.get(code, f"action {code}")


class ReadOnlySqlite:
    """Makes one sqlite3 connection read-only for good and runs queries on it with limits.

    ``allowed``: the tables and views a query may read (case-insensitive); None allows every table of
    the connection's main schema (never ``sqlite_master``, never another schema). A name that is no
    table of the database is a CTE of the query (SQLite prepares nothing else) and may be read."""

    def __init__(self, conn: sqlite3.Connection, allowed: Collection[str] | None = None) -> None:
        self.conn = conn
        self.allowed = None if allowed is None else {t.lower() for t in allowed}
        self.existing = {str(r[0]).lower() for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        self.denied: list[str] = []  # why the authorizer said no, for the error message
        conn.execute("PRAGMA query_only = ON")  # the last PRAGMA this connection runs
        # no value a query builds may pass 1 MB (randomblob(900000000) would take 900 MB), no database
        # may be attached even were ATTACH allowed
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1_000_000)
        conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, 100_000)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(self._authorize)

    def _authorize(self, action: int, arg1: str | None, arg2: str | None, db: str | None,
                   trigger: str | None) -> int:
        if action not in _ALLOWED_ACTIONS:
            self.denied.append(f"{_action_name(action)} is not allowed: the database is read-only")
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
            self.denied.append(f"the function {arg2} is not allowed")
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_READ:
            table = (arg1 or "").lower()
            view = (trigger or "").lower()
            if db not in (None, "main") or table.startswith("sqlite_") or (
                    self.allowed is not None and table in self.existing and table not in self.allowed
                    and view not in self.allowed):
                self.denied.append(f"the table {arg1} is not one of the tables you may query")
                return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def query(self, sql: str, row_limit: int, timeout_s: float,
              cancelled: Callable[[], bool] = lambda: False) -> QueryResult:
        sql = _one_query(sql)
        deadline = time.monotonic() + timeout_s
        stop: list[str] = []

        def progress() -> int:
            if cancelled():
                stop.append("the answer was cancelled")
            elif time.monotonic() > deadline:
                stop.append(f"the query took longer than {timeout_s:g} s and was stopped")
            return 1 if stop else 0

        self.denied.clear()
        self.conn.set_progress_handler(progress, 2000)
        try:
            cur = self.conn.execute(sql)
            rows = cur.fetchmany(row_limit + 1)
            columns = [d[0] for d in cur.description or ()]
            cur.close()
        except (sqlite3.Warning, sqlite3.ProgrammingError) as exc:  # "You can only execute one statement at a time."
            raise SqlRefused(f"refused: {exc} Send one SELECT statement.", sql=sql) from None
        except sqlite3.Error as exc:
            if stop:
                raise SqlRefused(f"refused: {stop[0]}", sql=sql) from None
            if self.denied:
                raise SqlRefused(f"refused: {self.denied[0]}", sql=sql) from None
            raise SqlRefused(f"the query failed: {exc}", sql=sql) from None
        finally:
            self.conn.set_progress_handler(None, 0)
        if not columns:
            raise SqlRefused("refused: the statement returns no rows — send one SELECT statement", sql=sql)
        return QueryResult(sql, columns, rows[:row_limit], len(rows) > row_limit)


def _one_query(sql: str) -> str:
    if not isinstance(sql, str) or not sql.strip():
        raise SqlRefused("the SQL query is empty")
    if len(sql) > 20_000:
        raise SqlRefused(f"the SQL query is too long ({len(sql)} characters, at most 20000)")
    return sql.strip().rstrip(";").strip() if sql.strip().endswith(";") and sql.count(";") == 1 else sql.strip()


def open_sqlite_readonly(path: str, allowed: Collection[str] | None) -> ReadOnlySqlite:
    """An admin's SQLite database file, opened read-only (``mode=ro``) and locked down as above."""
    from pathlib import Path
    from urllib.parse import quote

    if not Path(path).is_file():
        raise ToolError(f"the database file {path} does not exist")
    conn = sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True, check_same_thread=False)
    return ReadOnlySqlite(conn, allowed)


# -- PostgreSQL ------------------------------------------------------------------------------------

def _plan_nodes(plan: Any) -> Iterable[dict[str, Any]]:
    if isinstance(plan, dict):
        yield plan
        for child in plan.get("Plans", ()):
            yield from _plan_nodes(child)


def postgres_query(raw_connection: Any, sql: str, allowed: Collection[str], row_limit: int, timeout_s: float,
                   cancelled: Callable[[], bool] = lambda: False) -> QueryResult:
    """One query on a psycopg connection of its own (not autocommit), in a READ ONLY transaction that is
    rolled back; ``allowed``: table names, bare or schema-qualified. The query is planned first (``EXPLAIN``,
    which accepts only statements that read or write rows, never DDL, SET, COPY or DO), and every table of
    the plan must be allowed; then it runs as a server-side cursor (``DECLARE``: a SELECT or VALUES only, no
    data-modifying WITH), of which ``row_limit + 1`` rows are fetched, and the READ ONLY transaction refuses
    any write it still holds (a function that writes, ``FOR UPDATE``). ``cancelled()`` turning true
    cancels the running statement on the server."""
    import json

    sql = _one_query(sql)
    allowed_names = {t.lower() for t in allowed}
    cur = raw_connection.cursor()
    try:
        cur.execute("SET TRANSACTION READ ONLY")
        cur.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
        cur.execute("SET LOCAL lock_timeout = 1000")
        try:
            cur.execute("EXPLAIN (FORMAT JSON) " + sql, binary=True)  # binary: the extended protocol
            plan = cur.fetchone()[0]
        except Exception as exc:  # noqa: BLE001 - the database's reason is the answer
            raise SqlRefused(f"refused: {_pg_message(exc, sql)}", sql=sql) from None
        if isinstance(plan, str):
            plan = json.loads(plan)
        tables: list[str] = []
        for node in _plan_nodes(plan[0]["Plan"]):
            name = node.get("Relation Name")
            if name:
                schema = node.get("Schema") or "public"
                if name.lower() not in allowed_names and f"{schema}.{name}".lower() not in allowed_names:
                    raise SqlRefused(f"refused: the table {name} is not one of the tables you may query", sql=sql)
                tables.append(name)
        # a server-side cursor (DECLARE ... CURSOR FOR, which takes only a SELECT or VALUES): the server
        # sends row_limit + 1 rows, not the whole result
        rows_cur = raw_connection.cursor(name="zhiku_agent_query")
        done = threading.Event()
        stopped: list[bool] = []

        def watch() -> None:  # the answer was stopped: cancel the statement on the server
            while not done.wait(0.05):
                if cancelled():
                    stopped.append(True)
                    raw_connection.cancel_safe(timeout=2.0)
                    return

        watcher = threading.Thread(target=watch, name="zhiku-sql-cancel", daemon=True)
        watcher.start()
        try:
            rows_cur.execute(sql, binary=True)
            rows = rows_cur.fetchmany(row_limit + 1)
            columns = [d[0] for d in rows_cur.description or ()]
        except Exception as exc:  # noqa: BLE001
            why = "the answer was cancelled" if stopped else _pg_message(exc, sql)
            raise SqlRefused(f"refused: {why}", sql=sql) from None
        finally:
            done.set()
            watcher.join()
            try:
                rows_cur.close()
            except Exception:  # noqa: BLE001 - the transaction failed; the rollback below ends it
                pass
        if not columns:
            raise SqlRefused("refused: the statement returns no rows — send one SELECT statement", sql=sql)
        return QueryResult(sql, columns, [tuple(r) for r in rows[:row_limit]], len(rows) > row_limit,
                           list(dict.fromkeys(tables)))
    finally:
        cur.close()
        raw_connection.rollback()


_LEADING_COMMENTS = re.compile(r"^(\s+|--[^\n]*(\n|$)|/\*.*?\*/)*", re.S)


def _pg_message(exc: Exception, sql: str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "statement timeout" in text or "canceling statement" in text:
        return "the query took too long and was stopped"
    words = _LEADING_COMMENTS.sub("", sql).split(None, 1)
    first = words[0] if words else ""
    if "data-modifying statements" in text:
        return "the query changes data (a data-modifying WITH): only reading runs here"
    if first and text.startswith(f'syntax error at or near "{first}"'):
        return f"only a query that reads (SELECT, WITH, VALUES, TABLE) runs here, not {first.upper()}"
    return re.sub(r"\s+", " ", text)


# -- the admin's databases ---------------------------------------------------------------------------

@dataclass
class TableInfo:
    name: str
    columns: list[tuple[str, str]]  # (name, type)
    sample: QueryResult | None = None


class Databases:
    """The SQL databases of ``agent.databases``: described and queried read-only, tables of the
    allow-list only. Nothing connects before a tool asks."""

    def __init__(self, configs: Any) -> None:
        self.configs = dict(configs)  # name -> zhiku.config.agent.DatabaseSettings
        self._engines: dict[str, Any] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(self.configs)

    def _config(self, name: str) -> Any:
        if name not in self.configs:
            choices = ", ".join(self.configs) or "none configured"
            raise ToolError(f"no database '{name}'; databases: {choices}")
        return self.configs[name]

    @staticmethod
    def _dialect(url: str) -> str:
        return url.split(":", 1)[0].split("+", 1)[0].lower()

    def _sqlite_path(self, url: str) -> str:
        from sqlalchemy.engine import make_url

        path = make_url(url).database
        if not path or path == ":memory:":
            raise ToolError("a sqlite database for the agent must be a file")
        return path

    def _pg_engine(self, name: str) -> Any:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        with self._lock:
            if name not in self._engines:
                self._engines[name] = create_engine(self._config(name).url, poolclass=NullPool)
            return self._engines[name]

    def query(self, name: str, sql: str, cancelled: Callable[[], bool] = lambda: False) -> QueryResult:
        cfg = self._config(name)
        if self._dialect(cfg.url) == "sqlite":
            db = open_sqlite_readonly(self._sqlite_path(cfg.url), cfg.tables)
            try:
                result = db.query(sql, cfg.row_limit, cfg.timeout_s, cancelled)
            finally:
                db.conn.close()
            return result
        try:
            raw = self._pg_engine(name).raw_connection()
        except Exception as exc:  # noqa: BLE001 - an unreachable database is the tool's failure
            raise ToolError(f"the database '{name}' cannot be reached: {type(exc).__name__}") from None
        try:
            return postgres_query(raw.dbapi_connection, sql, cfg.tables, cfg.row_limit, cfg.timeout_s, cancelled)
        finally:
            raw.close()

    def describe(self, name: str) -> list[TableInfo]:
        """The allowed tables with their columns and three rows each (what the model writes SQL from)."""
        cfg = self._config(name)
        infos: list[TableInfo] = []
        if self._dialect(cfg.url) == "sqlite":
            from pathlib import Path
            from urllib.parse import quote

            path = self._sqlite_path(cfg.url)
            if not Path(path).is_file():
                raise ToolError(f"the database file {path} does not exist")
            conn = sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True)
            try:
                for table in cfg.tables:
                    cols = [(str(r[1]), str(r[2] or "")) for r in conn.execute(
                        "SELECT * FROM pragma_table_info(?)", (table,))]
                    infos.append(TableInfo(table, cols))
            finally:
                conn.close()
        else:
            raw = self._pg_engine(name).raw_connection()
            try:
                cur = raw.dbapi_connection.cursor()
                for table in cfg.tables:
                    schema, _, bare = table.rpartition(".")
                    cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s "
                                "AND table_schema = %s ORDER BY ordinal_position", (bare, schema or "public"))
                    infos.append(TableInfo(table, [(str(a), str(b)) for a, b in cur.fetchall()]))
                cur.close()
            finally:
                raw.rollback()
                raw.close()
        for info in infos:
            if not info.columns:
                raise ToolError(f"the database '{name}' has no table {info.name} (agent.databases.{name}.tables)")
            quoted = ".".join('"' + p.replace('"', '""') + '"' for p in info.name.split("."))
            try:
                info.sample = self.query(name, f"SELECT * FROM {quoted} LIMIT 3")
            except ToolError:
                info.sample = None
        return infos

    def close(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
