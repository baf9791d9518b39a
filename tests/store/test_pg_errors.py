"""Bad database settings stop zhiku at start with one line naming what is missing: a URL that is no
database URL, a server that is not there, the PostgreSQL index backends without PostgreSQL, or a
PostgreSQL whose pgvector is not enabled and may not be enabled by zhiku's role."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zhiku import Zhiku, load_settings
from zhiku.errors import ConfigError
from zhiku.testing.postgres import LocalPostgres

RESIDENT = {"vector": "pgvector", "lexical": "pg_bm25"}


def zhiku_cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    return subprocess.run([sys.executable, "-m", "zhiku", "--home", str(home), *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize(("url", "says"), [
    ("notaurl", "'notaurl' is not a database URL; write e.g. postgresql+psycopg://"),
    ("postgres://db.example/zhiku", "unknown database type 'postgres' (write postgresql+psycopg://, not postgres://)"),
    ("mysql://me@db.example/zhiku", "needs the Python driver 'MySQLdb', which is not installed"),
])
def test_a_url_that_is_no_database_url_is_one_line(tmp_path: Path, url: str, says: str) -> None:
    assert says in one_line_error(zhiku_cli(tmp_path / "home", {"ZHIKU_DATABASE_URL": url}, "kb", "list"))


def test_a_postgresql_that_is_not_there_is_one_line_without_the_password(
    postgres_server: LocalPostgres, tmp_path: Path
) -> None:
    down = LocalPostgres(tmp_path / "down")  # never started: nothing listens on its port
    url = down.url("zhiku").replace("postgres@", "postgres:s3cret@")
    line = one_line_error(zhiku_cli(tmp_path / "home", {"ZHIKU_DATABASE_URL": url}, "kb", "list"))
    assert f"cannot open the database at postgresql+psycopg://postgres:***@127.0.0.1:{down.port}/zhiku" in line
    assert "Connection refused" in line and "s3cret" not in line
    missing = postgres_server.url("no_such_database")
    line = one_line_error(zhiku_cli(tmp_path / "home", {"ZHIKU_DATABASE_URL": missing}, "kb", "list"))
    assert 'database "no_such_database" does not exist' in line


def test_the_postgresql_backends_need_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"index.vector 'pgvector' needs a PostgreSQL database_url "
                                          r"\(postgresql\+psycopg://user@host/db\); this database is sqlite"):
        Zhiku(load_settings(home=tmp_path / "home", overrides={"index": RESIDENT}))
    line = one_line_error(zhiku_cli(tmp_path / "home", {"ZHIKU_INDEX__VECTOR": "pgvector",
                                                        "ZHIKU_INDEX__LEXICAL": "pg_bm25"}, "kb", "list"))
    assert "needs a PostgreSQL database_url" in line


def test_the_postgresql_backends_go_as_a_pair(postgres_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="index.vector 'pgvector' and index.lexical 'bm25' do not go together"):
        Zhiku(load_settings(home=tmp_path / "home", overrides={"database_url": postgres_url,
                                                               "index": {"vector": "pgvector"}}))


def test_pgvector_not_enabled_and_not_allowed_is_one_line(postgres_server: LocalPostgres, tmp_path: Path) -> None:
    """A role that owns its database but is no superuser cannot CREATE EXTENSION vector (pgvector is not a
    trusted extension): the metadata still works with the file indexes; the PostgreSQL backends say why not."""
    url = postgres_server.new_database(vector=False)
    name = url.rsplit("/", 1)[1]
    postgres_server.sql("DO $$ BEGIN CREATE ROLE plain LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    postgres_server.sql(f'ALTER DATABASE "{name}" OWNER TO plain')
    plain = postgres_server.url(name, user="plain")
    try:
        with Zhiku(load_settings(home=tmp_path / "home", overrides={"database_url": plain})) as app:
            assert app.list_kbs() == []  # migrated (0003 changed nothing here): faiss and bm25 serve as before
        line = one_line_error(zhiku_cli(tmp_path / "home", {
            "ZHIKU_DATABASE_URL": plain, "ZHIKU_INDEX__VECTOR": "pgvector", "ZHIKU_INDEX__LEXICAL": "pg_bm25"},
            "kb", "list"))
        assert (f"PostgreSQL at 127.0.0.1:{postgres_server.port}, database '{name}': pgvector 0.8.5 is installed on "
                "the server but not enabled in this database, and role 'plain' may not enable it: run CREATE "
                "EXTENSION vector as a superuser") in line
        postgres_server.sql("CREATE EXTENSION vector", database=name)  # what the line says to do
        with Zhiku(load_settings(home=tmp_path / "home", overrides={"database_url": plain, "index": RESIDENT})) as app:
            app.create_kb("kb", embedder="static")
            assert app.search(["kb"], "anything") == []
    finally:
        postgres_server.drop_database(url)
