"""Opening a home whose schema is at head does not import Alembic (a tenth of `zhiku start`'s
imports before it listened): the revision table is read with plain SQL and compared with the head
read from the scripts' source (``quick_head``). A home that is not at head is still upgraded by
Alembic, and a script that is not plain enough to read that way leaves the answer to Alembic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from zhiku.store.engines import make_engine
from zhiku.store.migrations import current_revisions, head_revision, migrate
from zhiku.store.migrations.runner import quick_head

# a process opening the home of argv[1] as `zhiku start` does before it listens (the app, auth's
# check, the API), then saying which Alembic modules it imported and the schema revision it left
OPEN_AS_START = '''
import json, sys
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
app = Zhiku(load_settings(home=sys.argv[1], environ={},
                          overrides={"embedding": {"default": "static"}, "llm": {"detect_local": False}}))
app.auth.has_users()
create_app(app, start_jobs=False)
from zhiku.store.migrations import current_revisions
with app.engine.connect() as conn:
    revs = current_revisions(conn)
app.close()
print(json.dumps({"alembic": sorted(m for m in sys.modules if m.split(".")[0] == "alembic"), "revisions": revs}))
'''

NEXT_REVISION = '''
import sqlalchemy as sa
from alembic import op

revision = {revision}
down_revision = "{down}"


def upgrade():
    op.create_table("quick_head_probe", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("quick_head_probe")
'''


def open_as_start(home: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", OPEN_AS_START, str(home)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_home_at_head_opens_without_alembic_and_a_new_one_is_migrated(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = open_as_start(home)  # a fresh database: made by the migration scripts, through Alembic
    assert first["alembic"], "a fresh home must be made by Alembic's upgrade"
    assert first["revisions"] == [head_revision()]
    again = open_as_start(home)
    assert again["alembic"] == []  # at head: nothing of Alembic imported
    assert again["revisions"] == [head_revision()]


def test_quick_head_agrees_with_alembic(tmp_path: Path) -> None:
    assert quick_head() == head_revision()
    future = tmp_path / "future"
    future.mkdir()
    (future / "9001_next.py").write_text(NEXT_REVISION.format(revision='"9001"', down=head_revision()))
    (future / "__init__.py").write_text("revision = 'not a script'\n")  # Alembic skips it too
    assert quick_head([future]) == head_revision([future]) == "9001"


def test_a_home_behind_the_scripts_is_upgraded(tmp_path: Path) -> None:
    """A database at today's head, and one more script (a future release) whose revision is not a
    plain literal: quick_head cannot say, Alembic reads it and upgrades."""
    engine = make_engine(f"sqlite:///{tmp_path / 'zhiku.db'}")
    migrate(engine)
    future = tmp_path / "future"
    future.mkdir()
    (future / "9002_next.py").write_text(NEXT_REVISION.format(revision='"90" + "02"', down=head_revision()))
    assert quick_head([future]) is None
    result = migrate(engine, [future])
    assert (result.before, result.after, result.ran) == (head_revision(), "9002", True)
    with engine.connect() as conn:
        assert current_revisions(conn) == ("9002",)
        conn.execute(text("SELECT count(*) FROM quick_head_probe")).scalar_one()
    assert migrate(engine, [future]).ran is False  # now at head: nothing more to run
    engine.dispose()

