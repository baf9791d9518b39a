"""tool_approvals: agent tool calls waiting for their user's decision, in the database, so that the
decision may reach any server process (`zhiku start --processes N`, several servers behind a load
balancer), not only the one running the answer (issue 18 item 3).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Runs on SQLite and PostgreSQL: one new table; nothing existing changes. Approvals waiting while the
server was upgraded were in memory and are gone with the old process, as they always were at a restart.
"""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tool_approvals",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("tool_approvals")
