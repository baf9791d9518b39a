"""Tables of the database-resident index backends (pgvector, pg_bm25), on PostgreSQL only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

On PostgreSQL with pgvector available (and a role allowed to enable it), this enables the
``vector`` extension and creates ``chunk_vectors`` (halfvec), ``lexical_docs``,
``lexical_postings`` and ``index_stats`` (zhiku.store.pg_schema). Elsewhere it changes nothing:
SQLite keeps its schema, and a PostgreSQL without pgvector serves the file backends as before
(choosing ``index.vector: pgvector`` there stops zhiku at start, naming what is missing; the
tables are made at that start once pgvector is there).
"""
from __future__ import annotations

from typing import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    from zhiku.store.pg_schema import create_tables

    create_tables(conn)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in ("index_stats", "lexical_postings", "lexical_docs", "chunk_vectors"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
