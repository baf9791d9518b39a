"""messages.trace: the tool calls of an agent answer (zhiku.schema.ToolStep as JSON), null for others.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Runs on SQLite and PostgreSQL: one nullable column added in ``op.batch_alter_table``; earlier
messages keep no trace (null).
"""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trace", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("trace")
