"""Baseline: the schema of zhiku 0.1.0 (commit b2c083d), made by ``create_all`` before migrations.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

The tables are written out here, frozen, instead of taken from ``zhiku.store.db``: that module
describes the schema at head and changes with every migration, this one must not.

It creates only the tables that are missing, so the same step makes a fresh database and adopts
a home made by 0.1.0 or by a build before it (``create_all`` then added tables a home lacked at
each start; a home from such a build gets them here). Every later migration assumes exactly this.
"""
from __future__ import annotations

from typing import Sequence

from alembic import op
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    select,
)

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA_INFO_VERSION = 1  # what 0.1.0 wrote into schema_info; kept for that release's eyes


def baseline_metadata() -> MetaData:
    """The tables of zhiku 0.1.0, as its ``zhiku/store/db.py`` declared them."""
    m = MetaData()
    Table(
        "kbs", m,
        Column("id", String(32), primary_key=True),
        Column("name", String(200), nullable=False, unique=True),
        Column("description", Text, nullable=False),
        Column("embedder", String(200), nullable=False),
        Column("dimensions", Integer, nullable=False),
        Column("chunk_size", Integer, nullable=False),
        Column("chunk_overlap", Integer, nullable=False),
        Column("revision", BigInteger, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "files", m,
        Column("id", String(32), primary_key=True),
        Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), nullable=False),
        Column("name", Text, nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("status", String(16), nullable=False),
        Column("error", Text),
        Column("pages", Integer),
        Column("chunks", Integer, nullable=False),
        Column("doc_key", Text),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Index("ix_files_kb_name", "kb_id", "name"),
        Index("ix_files_kb_sha", "kb_id", "sha256"),
    )
    Table(
        "chunks", m,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), nullable=False),
        Column("file_id", String(32), ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("text", Text, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("page", Integer),
        Column("page_end", Integer),
        Column("section", JSON, nullable=False),
        Column("start", Integer),
        Column("end", Integer),
        Column("meta", JSON, nullable=False),
        Column("tokens", Text, nullable=False),
        Column("embedding", LargeBinary, nullable=False),
        Index("ix_chunks_kb", "kb_id", "id"),
        Index("ix_chunks_file", "file_id", "seq"),
        sqlite_autoincrement=True,
    )
    Table(
        "embed_cache", m,
        Column("model", String(200), primary_key=True),
        Column("text_sha", String(64), primary_key=True),
        Column("vector", LargeBinary, nullable=False),
    )
    Table(
        "schema_info", m,
        Column("version", Integer, primary_key=True),
    )
    Table(
        "users", m,
        Column("id", String(32), primary_key=True),
        Column("name", String(100), nullable=False, unique=True),
        Column("password_hash", Text, nullable=False),
        Column("role", String(16), nullable=False),
        Column("disabled", Boolean, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "api_keys", m,
        Column("id", String(32), primary_key=True),
        Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        Column("name", String(200), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("prefix", String(16), nullable=False),
        Column("secret_sha256", String(64), nullable=False, unique=True),
        Column("scopes", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("last_used_at", DateTime(timezone=True)),
        Column("expires_at", DateTime(timezone=True)),
        Column("revoked", Boolean, nullable=False),
        Index("ix_api_keys_user", "user_id"),
    )
    Table(
        "kb_grants", m,
        Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), primary_key=True),
        Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        Column("access", String(8), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Index("ix_kb_grants_user", "user_id"),
    )
    Table(
        "jobs", m,
        Column("id", String(32), primary_key=True),
        Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("status", String(16), nullable=False),
        Column("force", Boolean, nullable=False),
        Column("files", JSON, nullable=False),
        Column("chunks_total", Integer, nullable=False),
        Column("chunks_embedded", Integer, nullable=False),
        Column("error", Text),
        Column("retry_of", String(32)),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("started_at", DateTime(timezone=True)),
        Column("finished_at", DateTime(timezone=True)),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Index("ix_jobs_kb_created", "kb_id", "created_at"),
        Index("ix_jobs_status", "status"),
    )
    Table(
        "conversations", m,
        Column("id", String(32), primary_key=True),
        Column("owner", String(200), nullable=False),
        Column("title", Text, nullable=False),
        Column("mode", String(16), nullable=False),
        Column("settings", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Index("ix_conversations_owner_updated", "owner", "updated_at"),
    )
    Table(
        "messages", m,
        Column("id", String(32), primary_key=True),
        Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("role", String(16), nullable=False),
        Column("content", Text, nullable=False),
        Column("mode", String(16)),
        Column("model", String(200)),
        Column("status", String(16), nullable=False),
        Column("citations", JSON, nullable=False),
        Column("latency_ms", Integer),
        Column("usage", JSON),
        Column("error", Text),
        Column("meta", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Index("ix_messages_conversation_seq", "conversation_id", "seq", unique=True),
    )
    Table(
        "feedback", m,
        Column("message_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
        Column("rating", String(8), nullable=False),
        Column("reason", Text),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "temp_kbs", m,
        Column("id", String(32), primary_key=True),
        Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), nullable=False),
        Column("owner", String(200), nullable=False),
        Column("job_id", String(32)),
        Column("files", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        Index("ix_temp_kbs_expires", "expires_at"),
    )
    return m


def upgrade() -> None:
    bind = op.get_bind()
    tables = baseline_metadata()
    tables.create_all(bind, checkfirst=True)
    schema_info = tables.tables["schema_info"]
    if bind.execute(select(schema_info.c.version)).first() is None:
        bind.execute(schema_info.insert().values(version=SCHEMA_INFO_VERSION))


def downgrade() -> None:
    baseline_metadata().drop_all(op.get_bind())
