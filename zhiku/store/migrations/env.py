"""Alembic's environment for zhiku: always handed a live connection by ``zhiku.store.migrations``
(which holds the migration lock), never an ini file or a URL of its own."""

from __future__ import annotations

from alembic import context

from zhiku.store.db import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # migrations written by `new` must also run on SQLite
    compare_type=True,
    transactional_ddl=True,  # true on SQLite too: the runner wraps every upgrade in one transaction
)
with context.begin_transaction():
    context.run_migrations()
