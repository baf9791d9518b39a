"""kb_sources: the folders a KB follows (`zhiku kb sync`, issue 19, item 1), with each one's sync
status, the worker syncing it and its last report, so that a sync interrupted by a kill resumes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Runs on SQLite and PostgreSQL: one new table and its index; nothing existing changes.
"""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kb_sources',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kb_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('prefix', sa.Text(), nullable=False),
    sa.Column('watch', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['kb_id'], ['kbs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kb_sources', schema=None) as batch_op:
        batch_op.create_index('ix_kb_sources_kb_path', ['kb_id', 'path'], unique=True)



def downgrade() -> None:
    with op.batch_alter_table('kb_sources', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_sources_kb_path')

    op.drop_table('kb_sources')
