"""Schema migrations (Alembic), run by zhiku itself each time it opens a home.

``zhiku/store/db.py`` says what the tables look like now; the scripts in ``versions/`` say how a
database gets there from any earlier release. Opening a database brings it to head:

- a fresh one is made by the scripts (the baseline, then every later step);
- one made by zhiku 0.1.0, which had tables and no ``alembic_version``, is adopted as the
  baseline (whose step only adds tables such a home lacks), then upgraded;
- one stamped with a revision this code does not know was upgraded by a newer zhiku: a
  ``ConfigError`` says so, and nothing is touched.

Only one process migrates a database at a time (see ``lock``); the others wait, find it at head
and go on. No alembic.ini: the configuration is built here, pointing at this package.
How to write a migration: docs/migrations.md.
"""

import logging

# Alembic announces each of its autogenerate plugins at INFO whenever it is imported: with
# `zhiku -v` that was seven lines at every start. What users need from it is the upgrade itself.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

from zhiku.store.migrations.runner import (  # noqa: E402
    BASELINE,
    MIGRATIONS_DIR,
    VERSIONS_DIR,
    MigrationResult,
    alembic_config,
    current_revisions,
    head_revision,
    migrate,
)

__all__ = ["BASELINE", "MIGRATIONS_DIR", "VERSIONS_DIR", "MigrationResult", "alembic_config", "current_revisions",
           "head_revision", "migrate"]
