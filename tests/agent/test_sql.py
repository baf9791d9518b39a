"""sql_query over an admin's databases, on a real SQLite file and a real PostgreSQL: only the
allow-listed tables, and no write gets through however it is disguised — the connection refuses it
(SQLite's authorizer and read-only open, PostgreSQL's READ ONLY transaction and extended protocol)."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from zhiku import Zhiku, load_settings
from zhiku.agent.base import ToolContext, ToolError
from zhiku.agent.sql import Databases
from zhiku.agent.toolbox import build_tools
from zhiku.errors import ConfigError

ROWS = [(1, "alice", 120.0), (2, "bob", 80.5), (3, "carol", 42.0)]

# a write, however disguised, must be refused; each is tried on both databases
WRITES = [
    "DELETE FROM orders",
    "delete from orders where 1=1",
    "/* just a look */ DELETE FROM orders",
    "-- read only\nUPDATE orders SET amount = 0",
    "WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone",
    "WITH x AS (SELECT 1) UPDATE orders SET amount = 0",
    "SELECT 1; DELETE FROM orders",
    "SELECT 1; COMMIT; DELETE FROM orders",
    "INSERT INTO orders VALUES (9, 'mallory', 1)",
    "DROP TABLE orders",
    "CREATE TABLE extra AS SELECT * FROM orders",
    "ALTER TABLE orders ADD COLUMN x INTEGER",
    "TRUNCATE orders",
    "PRAGMA writable_schema = ON",
    "ATTACH DATABASE 'elsewhere.db' AS other",
    "SELECT * FROM secrets",
    "SELECT o.id, (SELECT max(token) FROM secrets) FROM orders o",
]


def seed(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount REAL)"))
        conn.execute(sa.text("CREATE TABLE secrets (token TEXT)"))
        conn.execute(sa.text("INSERT INTO secrets VALUES ('s3cret')"))
        for row in ROWS:
            conn.execute(sa.text("INSERT INTO orders VALUES (:i, :c, :a)"), {"i": row[0], "c": row[1], "a": row[2]})
    engine.dispose()


def rows_now(url: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text("SELECT id, customer, amount FROM orders ORDER BY id"))]
    engine.dispose()
    return rows


def sql_tool(home: Path, url: str, **db: Any) -> tuple[Databases, Any, ToolContext]:
    """sql_query as the agent builds it (the registry's factory, the settings' agent.databases); the
    Databases to close after."""
    settings = load_settings(home=home, overrides={"agent": {"databases": {
        "shop": {"url": url, "tables": ["orders"], "description": "orders of the web shop", **db}}}})
    databases = Databases(settings.agent.databases)
    context = ToolContext(owner="alice", readable_kbs=[], services={"settings": settings, "databases": databases})
    (tool,) = build_tools(context, ["sql_query"])
    return databases, tool, context


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    path = tmp_path / "shop.db"
    url = f"sqlite:///{path}"
    seed(url)
    yield url, path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sqlite_lists_allowed_tables_and_answers(home: Path, sqlite_db: tuple[str, Path]) -> None:
    url, path = sqlite_db
    app, tool, context = sql_tool(home, url)
    try:
        assert tool.spec.parameters["properties"]["database"]["enum"] == ["shop"]
        assert "orders of the web shop" in tool.spec.description
        listing = tool.run({"database": "shop"}, context)
        assert listing.data["tables"] == ["orders"] and "secrets" not in listing.text
        assert "customer TEXT" in listing.text and "| 1 | alice | 120 |" in listing.text
        result = tool.run({"database": "shop", "sql": "SELECT customer, amount FROM orders WHERE amount > 50 "
                                                      "ORDER BY amount DESC"}, context)
        assert result.data["rows"] == [["alice", 120.0], ["bob", 80.5]]
        assert result.text.startswith("SQL: SELECT customer")
        with pytest.raises(ToolError, match="no database 'other'; databases: shop"):
            tool.run({"database": "other", "sql": "SELECT 1"}, context)
    finally:
        app.close()


@pytest.mark.parametrize("sql", WRITES)
def test_sqlite_refuses_every_write(home: Path, sqlite_db: tuple[str, Path], sql: str) -> None:
    url, path = sqlite_db
    before = digest(path)
    app, tool, context = sql_tool(home, url)
    try:
        with pytest.raises(ToolError, match="refused|failed"):
            tool.run({"database": "shop", "sql": sql}, context)
    finally:
        app.close()
    assert digest(path) == before and rows_now(url) == ROWS
    assert not (path.parent / "elsewhere.db").exists() and not Path("elsewhere.db").exists()


def test_sqlite_time_and_row_limits(home: Path, sqlite_db: tuple[str, Path]) -> None:
    url, _ = sqlite_db
    app, tool, context = sql_tool(home, url, row_limit=2, timeout_s=0.3)
    try:
        result = tool.run({"database": "shop", "sql": "SELECT * FROM orders"}, context)
        assert len(result.data["rows"]) == 2 and result.data["truncated"]
        with pytest.raises(ToolError, match="longer than 0.3 s"):
            tool.run({"database": "shop", "sql": "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
                                                 "SELECT count(*) FROM r"}, context)
    finally:
        app.close()


def test_sqlite_an_allowed_view_reads_what_it_reads_and_nothing_else(home: Path, sqlite_db: tuple[str, Path]) -> None:
    url, path = sqlite_db
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 50")
    app = Zhiku(load_settings(home=home, overrides={"agent": {"databases": {
        "shop": {"url": url, "tables": ["big_orders"]}}}}))
    try:
        context = ToolContext(owner="alice", readable_kbs=[], services=app.agent_services)
        (tool,) = build_tools(context, ["sql_query"])
        result = tool.run({"database": "shop", "sql": "SELECT id FROM big_orders ORDER BY id"}, context)
        assert result.data["rows"] == [[1], [2]]
        with pytest.raises(ToolError, match="the table orders is not one of the tables you may query"):
            tool.run({"database": "shop", "sql": "SELECT id FROM orders"}, context)
    finally:
        app.close()


def test_a_database_url_of_another_kind_is_refused_by_the_settings(home: Path) -> None:
    with pytest.raises(ConfigError, match="only sqlite and postgresql"):
        load_settings(home=home, overrides={"agent": {"databases": {"x": {"url": "mysql://u@h/db", "tables": ["t"]}}}})
    with pytest.raises(ConfigError, match="tables"):
        load_settings(home=home, overrides={"agent": {"databases": {"x": {"url": "sqlite:///x.db", "tables": []}}}})


@pytest.fixture
def pg_db(postgres_url: str) -> str:
    seed(postgres_url)
    return postgres_url


def test_postgres_lists_allowed_tables_and_answers(home: Path, pg_db: str) -> None:
    app, tool, context = sql_tool(home, pg_db)
    try:
        listing = tool.run({"database": "shop"}, context)
        assert listing.data["tables"] == ["orders"] and "customer text" in listing.text and "secrets" not in listing.text
        result = tool.run({"database": "shop", "sql": "SELECT customer, amount::numeric(6,1) AS amount FROM orders "
                                                      "WHERE customer LIKE '%o%' ORDER BY id"}, context)
        assert [r[0] for r in result.data["rows"]] == ["bob", "carol"]
        total = tool.run({"database": "shop", "sql": "SELECT sum(amount) FROM orders"}, context)
        assert total.data["rows"] == [[242.5]]
    finally:
        app.close()


@pytest.mark.parametrize("sql", [*WRITES, "SET default_transaction_read_only = off",
                                 "COPY orders TO '/tmp/agenttools-copy.csv'",
                                 "SELECT 1 FROM orders FOR UPDATE", "DO $$ BEGIN DELETE FROM orders; END $$",
                                 "CALL nothing()"])
def test_postgres_refuses_every_write(home: Path, pg_db: str, sql: str) -> None:
    app, tool, context = sql_tool(home, pg_db)
    try:
        with pytest.raises(ToolError, match="refused"):
            tool.run({"database": "shop", "sql": sql}, context)
    finally:
        app.close()
    assert rows_now(pg_db) == ROWS
    assert not Path("/tmp/agenttools-copy.csv").exists()


def test_postgres_writes_are_refused_by_the_read_only_transaction_itself(home: Path, pg_db: str) -> None:
    # a SELECT that writes through a function passes the plan check and the cursor (it only touches the
    # allowed table): the server's READ ONLY transaction is what refuses it
    engine = sa.create_engine(pg_db)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE FUNCTION purge() RETURNS int LANGUAGE sql AS "
                             "$$ DELETE FROM orders RETURNING 1 $$"))
    engine.dispose()
    databases, tool, context = sql_tool(home, pg_db)
    try:
        for sql in ("SELECT purge() FROM orders", "SELECT * FROM orders FOR UPDATE"):
            with pytest.raises(ToolError, match="in a read-only transaction"):
                tool.run({"database": "shop", "sql": sql}, context)
        with pytest.raises(ToolError, match="multiple commands"):
            tool.run({"database": "shop", "sql": "SELECT 1; COMMIT; DELETE FROM orders"}, context)
        with pytest.raises(ToolError, match="data-modifying|read-only"):
            tool.run({"database": "shop", "sql": "WITH gone AS (DELETE FROM orders RETURNING *) "
                                                 "SELECT count(*) FROM gone"}, context)
    finally:
        databases.close()
    assert rows_now(pg_db) == ROWS


def test_postgres_time_and_row_limits_and_cancellation(home: Path, pg_db: str) -> None:
    app, tool, context = sql_tool(home, pg_db, row_limit=2, timeout_s=0.5)
    try:
        result = tool.run({"database": "shop", "sql": "SELECT * FROM orders ORDER BY id"}, context)
        assert result.data["rows"] == [[1, "alice", 120.0], [2, "bob", 80.5]] and result.data["truncated"]
        with pytest.raises(ToolError, match="took too long"):
            tool.run({"database": "shop", "sql": "SELECT pg_sleep(5), * FROM orders"}, context)
        # 150 million rows, made as they are read: the server-side cursor sends three, well within the time
        # limit (the whole result would take far longer)
        huge = tool.run({"database": "shop", "sql": "SELECT o.id, generate_series(1, 50000000) AS n FROM orders o"},
                        context)
        assert len(huge.data["rows"]) == 2 and huge.data["truncated"]
    finally:
        app.close()
    # the answer stopped while the query runs: the statement is cancelled on the server, long before
    # its time limit
    app, tool, context = sql_tool(home, pg_db, timeout_s=60)
    try:
        stopped = threading.Event()
        cancelled = ToolContext(owner="alice", readable_kbs=[], services=context.services, cancelled=stopped.is_set)
        threading.Timer(0.3, stopped.set).start()
        with pytest.raises(ToolError, match="the answer was cancelled"):
            tool.run({"database": "shop", "sql": "SELECT pg_sleep(30), * FROM orders"}, cancelled)
    finally:
        app.close()
