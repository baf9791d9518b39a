"""A PostgreSQL home keeps as many connections open as the settings say, on a real server
(zhiku/testing/postgres.py starts one).

SQLAlchemy's default pool keeps five connections and closes every one beyond them when it is
returned: on PostgreSQL each of those is a new server process (fork + authentication) per query in a
burst, and past fifteen at once a request waited and then failed. ``database_pool_size`` and
``database_pool_overflow`` size each process's pool; every server process and worker has its own,
so together they must fit the server's ``max_connections`` (docs/deploy.md)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, exc, text
from sqlalchemy.engine import Engine

from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.api.database_down import POOL_FULL
from zhiku.errors import ConfigError
from zhiku.store.engines import SQLITE_POOL_OVERFLOW, SQLITE_POOL_SIZE, make_engine

HOLDERS = 20  # more than the five connections SQLAlchemy keeps by default, and than its 15 at most


def _burst(engine: Engine, holders: int) -> None:
    """``holders`` threads each holding a connection at the same time (a burst of requests)."""
    all_in = threading.Barrier(holders)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            with engine.connect() as conn:
                all_in.wait(timeout=30)  # every thread holds its connection at once
                assert conn.execute(text("select 1")).scalar_one() == 1
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=read) for _ in range(holders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors


def test_a_second_burst_opens_no_new_server_connection(postgres_url: str) -> None:
    engine = make_engine(postgres_url, timeout_s=10, pool_size=HOLDERS, pool_overflow=0)
    opened: list[object] = []
    event.listen(engine, "connect", lambda conn, record: opened.append(conn))
    try:
        _burst(engine, HOLDERS)
        first = len(opened)
        assert first == HOLDERS  # each thread held a connection of its own
        _burst(engine, HOLDERS)
        assert len(opened) == first  # the second burst found them all open
        assert engine.pool.checkedin() == HOLDERS  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_a_holder_past_size_and_overflow_waits_the_timeout_then_fails(postgres_url: str) -> None:
    engine = make_engine(postgres_url, timeout_s=0.5, pool_size=2, pool_overflow=1)
    held = [engine.connect() for _ in range(3)]
    try:
        started = time.monotonic()
        with pytest.raises(exc.TimeoutError, match="QueuePool limit of size 2 overflow 1 reached"):
            engine.connect()
        assert 0.4 < time.monotonic() - started < 5
        held.pop().close()
        with engine.connect() as conn:  # a connection given back is free for the next holder at once
            assert conn.execute(text("select 1")).scalar_one() == 1
    finally:
        for conn in held:
            conn.close()
        engine.dispose()


def _app(home: Path, url: str, **overrides: object) -> Zhiku:
    return Zhiku(load_settings(home=home, environ={}, overrides={
        "database_url": url, "embedding": {"default": "static"}, **overrides}))


def test_the_settings_reach_the_engine_of_an_app_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    with _app(tmp_path / "home", postgres_url, database_pool_size=7, database_pool_overflow=3) as app:
        assert app.engine.dialect.name == "postgresql"
        assert app.engine.pool.size() == 7  # type: ignore[attr-defined]
        assert app.engine.pool._max_overflow == 3  # type: ignore[attr-defined]
    with _app(tmp_path / "defaults", postgres_url) as app:
        assert app.engine.pool.size() == 10  # type: ignore[attr-defined]
        assert app.engine.pool._max_overflow == 20  # type: ignore[attr-defined]


def test_sqlite_keeps_its_own_pool_whatever_the_settings(tmp_path: Path) -> None:
    with Zhiku(load_settings(home=tmp_path / "home", environ={}, overrides={
            "embedding": {"default": "static"}, "database_pool_size": 3, "database_pool_overflow": 0})) as app:
        assert app.engine.pool.size() == SQLITE_POOL_SIZE  # type: ignore[attr-defined]
        assert app.engine.pool._max_overflow == SQLITE_POOL_OVERFLOW  # type: ignore[attr-defined]


@pytest.mark.parametrize(("setting", "value", "says"), [
    ("database_pool_size", 0, "database_pool_size: Input should be greater than or equal to 1"),
    ("database_pool_overflow", -1, "database_pool_overflow: Input should be greater than or equal to 0"),
    ("database_pool_size", "many", "database_pool_size: Input should be a valid integer"),
])
def test_a_bad_pool_size_is_a_settings_error(tmp_path: Path, setting: str, value: object, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        load_settings(home=tmp_path, environ={}, overrides={setting: value})
    with pytest.raises(ConfigError, match=says):  # as operators set it: ZHIKU_DATABASE_POOL_SIZE=...
        load_settings(home=tmp_path, environ={f"ZHIKU_{setting.upper()}": str(value)})


def test_a_pool_of_one_connection_in_all_is_a_settings_error(tmp_path: Path) -> None:
    """Upgrading the schema holds two connections at once (the migration lock, the migration): with one
    in all, opening a new database would wait database_timeout_s and fail."""
    with pytest.raises(ConfigError, match=r"database_pool_overflow: Value error, database_pool_size \+ "
                                          r"database_pool_overflow must be at least 2"):
        load_settings(home=tmp_path, environ={}, overrides={"database_pool_size": 1, "database_pool_overflow": 0})
    assert load_settings(home=tmp_path, environ={}, overrides={
        "database_pool_size": 1, "database_pool_overflow": 1}).database_pool_overflow == 1


def test_no_free_connection_is_a_503_with_the_reason(postgres_url: str, tmp_path: Path) -> None:
    """Every connection of the process's pool held past ``database_timeout_s``: an HTTP request is
    answered 503 ``unavailable`` saying so, with Retry-After, not a 500; once one is free it is served."""
    with _app(tmp_path / "home", postgres_url, database_timeout_s=1,
              database_pool_size=1, database_pool_overflow=1) as app:
        client = TestClient(create_app(app, start_jobs=False), base_url="http://127.0.0.1")
        held = [app.engine.connect() for _ in range(2)]  # the two connections this process may have
        try:
            response = client.get("/api/kbs")
        finally:
            for conn in held:
                conn.close()
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "5"
        error = response.json()["error"]
        assert error["type"] == "unavailable"
        assert error["message"] == POOL_FULL  # busy, not down: it names the settings that size the pool
        assert client.get("/api/kbs").status_code == 200


def test_a_connection_in_use_just_now_is_handed_out_again_without_a_ping(postgres_url: str) -> None:
    """A search checks a connection out several times: pinging each checkout was a round trip each."""
    from zhiku.store import engines

    engine = make_engine(postgres_url, timeout_s=10, pool_size=2, pool_overflow=0)
    real_ping, pings = engine.dialect.do_ping, []

    def counted(dbapi_conn: object) -> bool:
        pings.append(1)
        return real_ping(dbapi_conn)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]  # observed, still the real ping
    try:
        for _ in range(5):
            with engine.connect() as conn:
                assert conn.execute(text("select 1")).scalar_one() == 1
        assert pings == []  # new, then returned a moment ago each time
        time.sleep(engines.RECENT_S + 0.2)
        with engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
        assert pings == [1]  # idle longer than RECENT_S: looked at first
    finally:
        engine.dispose()


def test_connections_closed_by_a_restarted_server_are_replaced_not_failed(tmp_path: Path) -> None:
    """PostgreSQL restarted while the pool held connections: the next requests get new ones."""
    from zhiku.store import engines
    from zhiku.testing.postgres import LocalPostgres

    with LocalPostgres(tmp_path / "pg") as server:
        engine = make_engine(server.new_database("restarted"), timeout_s=5, pool_size=3, pool_overflow=0)
        try:
            held = [engine.connect() for _ in range(3)]  # the pool holds three open connections
            for conn in held:
                assert conn.execute(text("select 1")).scalar_one() == 1
                conn.close()
            server.stop()
            server.start()
            time.sleep(engines.RECENT_S + 0.2)
            for _ in range(6):  # every pooled connection was closed by the restart: each is replaced
                with engine.connect() as conn:
                    assert conn.execute(text("select 1")).scalar_one() == 1
        finally:
            engine.dispose()
