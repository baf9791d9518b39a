"""chatchat_answers: answers given on the Chatchat-compatible KB chat routes, by message id, so that
Chatchat's /chat/feedback can rate them (issue 16, item 7).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

Runs on SQLite and PostgreSQL: one new table and its index; nothing existing changes.
"""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chatchat_answers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("kb", sa.String(length=200), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating", sa.String(length=8), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chatchat_answers", schema=None) as batch_op:
        batch_op.create_index("ix_chatchat_answers_created", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("chatchat_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_chatchat_answers_created")
    op.drop_table("chatchat_answers")
