"""Writing the next migration (``python -m zhiku.store.migrations new "message"``): a developer's tool.

The draft compares ``zhiku/store/db.py`` with a scratch SQLite database brought to head by the
existing scripts, so it holds what db.py gained since the last migration. Read and finish it by
hand (docs/migrations.md): autogenerate misses renames, data moves and server defaults.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

from alembic import command
from alembic.script import Script, ScriptDirectory

from zhiku.store.migrations.runner import VERSIONS_DIR, alembic_config, migrate


def next_revision_id(script: ScriptDirectory) -> str:
    """Revisions are numbered 0001, 0002, ... so the folder lists them in order."""
    numbers = [int(s.revision) for s in script.walk_revisions() if s.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def new_revision(message: str, autogenerate: bool = True, version_path: Path = VERSIONS_DIR,
                 extra_locations: Sequence[Path] = ()) -> Path:
    """Write the next migration script into ``version_path`` and return its path."""
    from zhiku.store.engines import make_engine

    locations = [*extra_locations, *([version_path] if version_path != VERSIONS_DIR else [])]
    cfg = alembic_config(locations)
    rev_id = next_revision_id(ScriptDirectory.from_config(cfg))
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/head.db")
        try:
            migrate(engine, locations)
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                written = command.revision(cfg, message, autogenerate=autogenerate, rev_id=rev_id,
                                           version_path=str(version_path))
        finally:
            engine.dispose()
    if not isinstance(written, Script):
        raise RuntimeError(f"alembic wrote {written!r}, expected one script")
    return Path(written.path)
