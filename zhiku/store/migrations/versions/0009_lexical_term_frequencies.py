"""pg_bm25: each term's document frequency per KB in ``lexical_terms`` (PostgreSQL only).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

A pg_bm25 search counted every query term's postings to get its document frequency (tens of
thousands of index entries for a common term at 100k chunks, on every search); the new table holds
the count, kept in the same transactions as the postings (zhiku.store.pg_indexes), read by primary
key. On a PostgreSQL database that has the resident index tables this creates the table and counts
the existing postings into it once; elsewhere (SQLite, PostgreSQL without pgvector) it changes nothing.
"""
from __future__ import annotations

from typing import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    if conn.execute(text("SELECT to_regclass('lexical_postings')")).scalar() is None:
        return  # no resident tables here (yet): check_postgres makes them all, this one included
    from zhiku.store.pg_schema import create_tables

    create_tables(conn)  # creates lexical_terms and counts the postings into it when it is new


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    op.execute("DROP TABLE IF EXISTS lexical_terms")
