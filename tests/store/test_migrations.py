"""Schema migrations: a home written by release 0.1.0 opens with today's code with everything still
there and searchable; fresh homes are made by the migrations; a newer database is refused; two
processes opening one home migrate it once; a future migration keeps every row; and the same on
PostgreSQL.

The fixture home (fixtures/home_0_1_0) was written by release 0.1.0 itself
(fixtures/make_home_0_1_0.py, run against commit b2c083d); its manifest.json is what that release
saw, the oracle here. It holds no indexes: opening it must rebuild them from the database.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, func, insert, select, text, update
from sqlalchemy.engine import Engine

from zhiku import Zhiku, load_settings
from zhiku.chat.files import TEMP_PREFIX
from zhiku.errors import ConfigError
from zhiku.store.db import metadata
from zhiku.store.engines import make_engine
from zhiku.store.migrations import BASELINE, alembic_config, current_revisions, head_revision, migrate
from zhiku.testing.postgres import LocalPostgres

FIXTURE = Path(__file__).parent / "fixtures" / "home_0_1_0"
MANIFEST: dict[str, Any] = json.loads((FIXTURE / "manifest.json").read_text(encoding="utf-8"))

# one revision of a "future release". Changing a column's default makes SQLite rebuild ``files``
# (copy, drop, rename: the way most SQLite changes run), and dropping ``files`` with foreign keys
# on would cascade to every chunk; PostgreSQL alters it in place.
FUTURE_REVISION = '''
import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=False, server_default="und"))
        batch.alter_column("chunks", existing_type=sa.Integer, existing_nullable=False, server_default="0")


def downgrade():
    with op.batch_alter_table("files") as batch:
        batch.alter_column("chunks", existing_type=sa.Integer, existing_nullable=False, server_default=None)
        batch.drop_column("language")
'''

# one process opening a home, started with others at the same moment (the go file)
OPENER = '''
import json, sys, time
from pathlib import Path
from zhiku.store.engines import make_engine
from zhiku.store.migrations import migrate

url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
engine = make_engine(url)
ready.touch()
while not go.exists():
    time.sleep(0.002)
result = migrate(engine)
print(json.dumps({"ran": result.ran, "adopted": result.adopted, "after": result.after}))
'''


def copy_home(dest: Path) -> Path:
    shutil.copytree(FIXTURE, dest, ignore=shutil.ignore_patterns("manifest.json"))
    return dest


def open_home(home: Path, **overrides: Any) -> Zhiku:
    base: dict[str, Any] = {"embedding": {"default": "static"}, "llm": {"detect_local": False}}
    return Zhiku(load_settings(home=home, environ={}, overrides={**base, **overrides}))


def revisions(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return current_revisions(conn)


def baseline_tables() -> MetaData:
    """Release 0.1.0's tables, as the baseline revision freezes them."""
    return ScriptDirectory.from_config(alembic_config()).get_revision(BASELINE).module.baseline_metadata()


def rows_of(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the 0.1.0 schema (its columns only), in a stable order."""
    with engine.connect() as conn:
        return {table.name: sorted(tuple(r) for r in conn.execute(select(*table.c)).all())
                for table in baseline_tables().sorted_tables}


def assert_home_intact(app: Zhiku) -> None:
    """What release 0.1.0 wrote, read back through today's code: all there, all searchable."""
    m = MANIFEST
    assert sorted(kb.name for kb in app.list_kbs()) == sorted(m["kbs"])
    for name, expected in m["kbs"].items():
        kb = app.kb(name)
        assert (kb.id, kb.description, kb.embedder) == (expected["id"], expected["description"], expected["embedder"])
        files = {f.name: {"status": f.status, "chunks": f.chunks, "sha256": f.sha256} for f in app.list_files(name)}
        assert files == expected["files"]
        assert kb.chunks == sum(f["chunks"] for f in expected["files"].values())
        for fname, f in expected["files"].items():
            if f["status"] == "indexed":
                _, stored = app.stored_file(name, fname)
                assert stored.is_file()
    # the two same-named files in different folders are both there
    assert {"big/north/readme.md", "big/south/readme.md"} <= set(m["kbs"][m["big_kb"]]["files"])

    hits = app.search([m["big_kb"]], "How often does the lighthouse keeper record the tide?")
    assert hits[0].file == "big/north/readme.md" and m["big_passage"] in hits[0].text
    hits = app.search([m["small_kb"]], "员工每年有几天带薪年假？")
    assert hits[0].file == "small/年假.md" and m["small_passage"] in hits[0].text
    hits = app.search([m["big_kb"]], "filed under code PAR-0603", mode="lexical")
    assert hits[0].file == "big/parking.md"

    temp = m["temp_kb"]  # file chat's KB: its row, its finished ingestion job, its chunks
    temp_kbs, jobs = metadata.tables["temp_kbs"], metadata.tables["jobs"]
    with app.engine.connect() as conn:
        row = conn.execute(select(temp_kbs.c.owner, jobs.c.status).join(jobs, jobs.c.id == temp_kbs.c.job_id)
                           .where(temp_kbs.c.id == temp["id"])).one()
    assert tuple(row) == (temp["owner"], "done")
    hits = app.search([TEMP_PREFIX + temp["id"]], "Which train tickets need approval?")
    assert temp["passage"] in hits[0].text

    for cid, conv in m["conversations"].items():
        got = app.conversations.get(conv["owner"], cid)
        assert (got.title, got.mode) == (conv["title"], conv["mode"])
        assert [[x.role, x.content, len(x.citations)] for x in got.messages] == conv["messages"]
        assert {x.id: x.feedback.rating for x in got.messages if x.feedback} == conv["feedback"]

    for name, user in m["users"].items():
        assert app.auth.verify(name, user["password"]).role == user["role"]
        who = app.auth.resolve(user["key"])
        assert who is not None and who.name == name
    assert {g["user"]: g["access"] for g in app.auth.grants(m["small_kb"])} == m["grants"][m["small_kb"]]

    assert revisions(app.engine) == (head_revision(),)


# -- the home of release 0.1.0 ---------------------------------------------------------------------

def test_home_of_release_0_1_0_opens_with_everything_there_and_searchable(tmp_path: Path) -> None:
    home = copy_home(tmp_path / "home")
    assert not (home / "indexes").exists()
    with open_home(home) as app:
        assert_home_intact(app)
    assert (home / "indexes").exists()  # rebuilt from the database
    with open_home(home) as app:  # a second start: at head, nothing to do, indexes reused
        assert_home_intact(app)


def test_adopted_fresh_and_create_all_schemas_are_one_schema(tmp_path: Path) -> None:
    """A fresh home made by the migrations, a 0.1.0 home adopted by them, and db.py's tables
    created directly are the same schema, down to the SQL; and db.py agrees with head."""
    with open_home(tmp_path / "fresh"):
        pass
    old = copy_home(tmp_path / "old")
    with open_home(old):
        pass
    direct = make_engine(f"sqlite:///{tmp_path / 'direct.db'}")
    metadata.create_all(direct)
    engines = [make_engine(f"sqlite:///{tmp_path / 'fresh' / 'zhiku.db'}"),
               make_engine(f"sqlite:///{old / 'zhiku.db'}"), direct]
    ddl = [sqlite_ddl(e) for e in engines]
    assert ddl[0] == ddl[1] == ddl[2]
    for engine in engines[:2]:
        assert revisions(engine) == (head_revision(),)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata) == []
            assert conn.execute(text("SELECT version FROM schema_info")).scalars().all() == [1]
        engine.dispose()
    direct.dispose()


def sqlite_ddl(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                                 "AND name NOT IN ('alembic_version', 'sqlite_sequence')")).all()
    # a table rebuilt by a batch migration is renamed into place, and SQLite then quotes its name
    return {name: " ".join(sql.replace(f'CREATE TABLE "{name}"', f"CREATE TABLE {name}", 1).split())
            for name, sql in rows}


def test_the_baseline_is_release_0_1_0s_schema(tmp_path: Path) -> None:
    """The frozen baseline describes exactly the tables 0.1.0 wrote (its SQL, from the fixture)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'baseline.db'}")
    baseline_tables().create_all(engine)
    old = make_engine(f"sqlite:///{copy_home(tmp_path / 'old') / 'zhiku.db'}")
    assert sqlite_ddl(engine) == sqlite_ddl(old)
    engine.dispose()
    old.dispose()


# -- refusing what this code cannot read ----------------------------------------------------------

def test_a_database_newer_than_the_code_is_refused_untouched(tmp_path: Path, cli: Any, home: Path) -> None:
    with open_home(home):
        pass
    engine = make_engine(f"sqlite:///{home / 'zhiku.db'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    with pytest.raises(ConfigError, match="newer zhiku") as refused:
        open_home(home)
    assert refused.value.details["revision"] == "0999"
    assert "restore the backup" in str(refused.value)
    result = cli("kb", "list")
    assert result.code == 1 and "newer zhiku" in result.err
    assert revisions(engine) == ("0999",)
    engine.dispose()


# -- a future release's migration on an existing home ---------------------------------------------

def test_a_future_migration_upgrades_the_0_1_0_home_without_losing_a_row(tmp_path: Path) -> None:
    future = tmp_path / "future"
    future.mkdir()
    (future / "9001_files_language.py").write_text(FUTURE_REVISION.format(down=head_revision()), encoding="utf-8")
    home = copy_home(tmp_path / "home")
    engine = make_engine(f"sqlite:///{home / 'zhiku.db'}")  # foreign keys on, as zhiku runs
    before = rows_of(engine)
    assert len(before["chunks"]) == 101
    result = migrate(engine, [future])
    assert (result.adopted, result.ran, result.after) == (True, True, "9001")
    assert rows_of(engine) == before  # every row of every table, files' old columns included
    with engine.connect() as conn:
        languages = conn.execute(text("SELECT language, count(*) FROM files GROUP BY language")).all()
        assert languages == [("und", len(before["files"]))]
        files_sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'files'")).scalar()
        assert "chunks INTEGER DEFAULT '0' NOT NULL" in files_sql  # rebuilt: SQLite cannot alter a default
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    assert migrate(engine, [future]).ran is False
    engine.dispose()
    with pytest.raises(ConfigError, match="9001"):  # today's code does not know the future release
        open_home(home)


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    """All steps commit together or none does, on SQLite too (its driver would run DDL outside any
    transaction): a step that fails halfway leaves no half-altered table behind."""
    future = tmp_path / "future"
    future.mkdir()
    failing = FUTURE_REVISION.format(down=head_revision()).replace(
        'server_default="0")\n', 'server_default="0")\n    raise RuntimeError("step failed")\n', 1)
    assert "step failed" in failing
    (future / "9001_fails.py").write_text(failing, encoding="utf-8")
    home = copy_home(tmp_path / "home")
    engine = make_engine(f"sqlite:///{home / 'zhiku.db'}")
    before, ddl = rows_of(engine), sqlite_ddl(engine)
    with pytest.raises(RuntimeError, match="step failed"):
        migrate(engine, [future])
    assert revisions(engine) == ()  # not even the adoption was kept
    assert sqlite_ddl(engine) == ddl and rows_of(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
    with open_home(home) as app:  # and today's code still opens it
        assert revisions(app.engine) == (head_revision(),)


def test_new_revision_helper_writes_the_next_script_and_it_runs(tmp_path: Path) -> None:
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    out = subprocess.run([sys.executable, "-m", "zhiku.store.migrations", "new", "add a note",
                          "--version-path", str(drafts)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    (script,) = drafts.glob("*.py")
    number = int(head_revision()) + 1
    assert script.name == f"{number:04d}_add_a_note.py"
    source = script.read_text(encoding="utf-8")
    assert f"down_revision: str | Sequence[str] | None = '{head_revision()}'" in source
    assert "op." not in source.split("def upgrade")[1].split("def downgrade")[0]  # db.py == head: nothing to do
    engine = make_engine(f"sqlite:///{copy_home(tmp_path / 'home') / 'zhiku.db'}")
    assert migrate(engine, [drafts]).after == f"{number:04d}"
    engine.dispose()


# -- several openers at once -----------------------------------------------------------------------

def open_at_once(url: str, work: Path, n: int = 3) -> list[dict[str, Any]]:
    """``n`` processes call migrate() on ``url`` at the same moment; their results."""
    go = work / "go"
    procs = []
    for i in range(n):
        procs.append(subprocess.Popen([sys.executable, "-c", OPENER, url, str(work / f"ready{i}"), str(go)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + 120
    while not all((work / f"ready{i}").exists() for i in range(n)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "an opener died"
        time.sleep(0.01)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


@pytest.mark.parametrize("start", ["fresh", "0.1.0"])
def test_concurrent_openers_migrate_once(tmp_path: Path, start: str) -> None:
    home = copy_home(tmp_path / "home") if start == "0.1.0" else tmp_path / "home"
    url = f"sqlite:///{home / 'zhiku.db'}"
    results = open_at_once(url, tmp_path)
    assert [r["ran"] for r in results].count(True) == 1
    assert {r["after"] for r in results} == {head_revision()}
    assert (home / "zhiku.db.migrate.lock").exists()
    with open_home(home) as app:
        assert revisions(app.engine) == (head_revision(),)
        if start == "0.1.0":
            assert_home_intact(app)


# -- PostgreSQL ------------------------------------------------------------------------------------

@pytest.fixture
def pg_url(postgres_server: LocalPostgres) -> Iterator[str]:
    """A new, empty database (pgvector not yet enabled: migration 0003 enables it) on the test server."""
    url = postgres_server.new_database(vector=False)
    yield url
    postgres_server.drop_database(url)


def pg_schema_differences(conn: Any) -> list[Any]:
    """Differences between the database and the code's tables; the tables of the PostgreSQL index
    backends (migration 0003, not in the SQLite schema) must be there and are otherwise left out."""
    from zhiku.store.pg_schema import TABLES

    diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    resident = [d for d in diff if d[0] == "remove_table" and d[1].name in TABLES]
    assert sorted(d[1].name for d in resident) == sorted(TABLES)
    return [d for d in diff if d not in resident and not (d[0] == "remove_index" and d[1].table.name in TABLES)]


def load_0_1_0_into(url: str) -> None:
    """What release 0.1.0 made of a PostgreSQL database (create_all of its tables, schema_info 1),
    holding the fixture home's rows."""
    tables = baseline_tables()
    source = create_engine(f"sqlite:///{FIXTURE / 'zhiku.db'}")
    target = create_engine(url)
    tables.create_all(target)
    with source.connect() as src, target.begin() as dst:
        for table in tables.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(select(table))]
            if rows:
                dst.execute(insert(table), rows)
        dst.execute(text("SELECT setval(pg_get_serial_sequence('chunks', 'id'), (SELECT max(id) FROM chunks))"))
    source.dispose()
    target.dispose()


@pytest.mark.slow
def test_home_of_release_0_1_0_upgrades_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    load_0_1_0_into(pg_url)
    home = copy_home(tmp_path / "home")
    (home / "zhiku.db").unlink()  # the stored files stay in the home; the rows are in PostgreSQL
    with open_home(home, database_url=pg_url) as app:
        assert app.engine.dialect.name == "postgresql"
        assert_home_intact(app)
        with app.engine.connect() as conn:
            assert pg_schema_differences(conn) == []
        app.create_kb("新的")  # ids keep counting where 0.1.0 stopped
        (tmp_path / "new.md").write_text("# New\n\nA new file after the upgrade.\n", encoding="utf-8")
        assert app.add_files("新的", [tmp_path / "new.md"]).added == ["new.md"]
        with app.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(metadata.tables["chunks"])).scalar() == 102


@pytest.mark.slow
def test_concurrent_openers_migrate_once_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    results = open_at_once(pg_url, tmp_path)
    assert [r["ran"] for r in results].count(True) == 1
    engine = make_engine(pg_url)
    assert revisions(engine) == (head_revision(),)
    engine.dispose()


@pytest.mark.slow
def test_a_future_migration_upgrades_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    load_0_1_0_into(pg_url)
    future = tmp_path / "future"
    future.mkdir()
    (future / "9001_files_language.py").write_text(FUTURE_REVISION.format(down=head_revision()), encoding="utf-8")
    engine = make_engine(pg_url)
    before = rows_of(engine)
    assert migrate(engine, [future]).after == "9001"
    assert rows_of(engine) == before
    with engine.begin() as conn:
        assert conn.execute(text("SELECT DISTINCT language FROM files")).scalars().all() == ["und"]
        conn.execute(update(metadata.tables["files"]).values(status="indexed"))  # the table still works
    engine.dispose()
