"""kb index backend: where each KB's indexes live (``kbs.index_backend``, NULL = the configured
backend) and which copy of them is current (``kbs.index_generation``), plus ``kb_migrations``: the
progress of ``zhiku kb migrate`` (issue 14 item 5), one row per KB being moved, so a killed migration
resumes where it stopped.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

Runs on SQLite and PostgreSQL: two nullable columns and one new table; nothing existing changes.
"""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('kbs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('index_backend', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('index_generation', sa.String(length=32), nullable=True))
    op.create_table('kb_migrations',
    sa.Column('kb_id', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('embedder', sa.String(length=200), nullable=False),
    sa.Column('dimensions', sa.Integer(), nullable=False),
    sa.Column('generation', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('done', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('copied', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['kb_id'], ['kbs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('kb_id')
    )


def downgrade() -> None:
    op.drop_table('kb_migrations')
    with op.batch_alter_table('kbs', schema=None) as batch_op:
        batch_op.drop_column('index_generation')
        batch_op.drop_column('index_backend')
