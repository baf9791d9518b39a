"""The metadata database: the one source of truth (SQLite by default, PostgreSQL at scale).

Knowledge bases, files (content hash and status), chunks with their text,
metadata, lexical tokens and embeddings, and the embedding cache. Indexes are
derived from these tables and can always be rebuilt from them.
"""

from __future__ import annotations

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
    false,
)

# The schema at head. Change it only together with a migration (docs/migrations.md):
# tests/store/test_migrations.py fails when this and the migrations disagree.
metadata = MetaData()

kbs = Table(
    "kbs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("embedder", String(200), nullable=False),
    Column("dimensions", Integer, nullable=False),
    Column("chunk_size", Integer, nullable=False),
    Column("chunk_overlap", Integer, nullable=False),
    # bumped in the same transaction as every change of the KB's searchable chunks
    Column("revision", BigInteger, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # where its indexes live (NULL: the configured backend) and which copy is current (zhiku.store.kb_backends)
    Column("index_backend", String(16)),
    Column("index_generation", String(32)),
)

# a `zhiku kb migrate` under way, one per KB (zhiku.store.migrate): resumed after a kill
kb_migrations = Table(
    "kb_migrations",
    metadata,
    Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), primary_key=True),
    Column("source", String(16), nullable=False),
    Column("target", String(16), nullable=False),
    Column("embedder", String(200), nullable=False),
    Column("dimensions", Integer, nullable=False),
    Column("generation", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # copying | switching | done | failed
    Column("done", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("copied", JSON, nullable=False),
    Column("error", Text),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

files = Table(
    "files",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("pages", Integer),
    Column("chunks", Integer, nullable=False, default=0),
    Column("doc_key", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_files_kb_name", "kb_id", "name"),
    Index("ix_files_kb_sha", "kb_id", "sha256"),
)

chunks = Table(
    "chunks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), nullable=False),
    Column("file_id", String(32), ForeignKey("files.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("kind", String(16), nullable=False, default="text"),
    Column("page", Integer),
    Column("page_end", Integer),
    Column("section", JSON, nullable=False, default=list),
    Column("start", Integer),
    Column("end", Integer),
    Column("meta", JSON, nullable=False, default=dict),
    Column("tokens", Text, nullable=False, default=""),  # lexical tokens, space-joined
    Column("embedding", LargeBinary, nullable=False),  # float32, L2-normalised
    Index("ix_chunks_kb", "kb_id", "id"),
    Index("ix_chunks_file", "file_id", "seq"),
    sqlite_autoincrement=True,
)

embed_cache = Table(
    "embed_cache",
    metadata,
    Column("model", String(200), primary_key=True),
    Column("text_sha", String(64), primary_key=True),
    Column("vector", LargeBinary, nullable=False),
)

# zhiku 0.1.0's schema number (1), from before migrations; alembic_version has taken over
schema_info = Table(
    "schema_info",
    metadata,
    Column("version", Integer, primary_key=True),
)

# Users, API keys and per-KB access (zhiku.auth). Secrets are never stored: passwords as
# salted scrypt hashes, API keys as the sha256 of the secret (plus a short prefix to show).
users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # scrypt$n$r$p$salt$hash (base64)
    Column("role", String(16), nullable=False),  # admin | user
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("kind", String(16), nullable=False, default="key"),  # key | session (a login)
    Column("prefix", String(16), nullable=False),  # the first characters of the secret, to recognise it
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("scopes", JSON, nullable=False, default=list),  # read | write | admin
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked", Boolean, nullable=False, default=False),
    Index("ix_api_keys_user", "user_id"),
)

# who may use a KB besides admins: access owner | write | read (a KB with no owner row
# was made on an open server or by the CLI, and only admins reach it when auth is on)
kb_grants = Table(
    "kb_grants",
    metadata,
    Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("access", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_kb_grants_user", "user_id"),
)


# Background ingestion jobs (zhiku.ingest.jobs): any process with ingestion on claims queued ones
# from here (zhiku.ingest.claims); a job whose worker died is taken over when its lease runs out.
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # upload | reingest | retry
    Column("status", String(16), nullable=False),
    Column("force", Boolean, nullable=False, default=False),
    Column("files", JSON, nullable=False, default=list),  # per file: name, size, outcome, detail, staged
    Column("chunks_total", Integer, nullable=False, default=0),
    Column("chunks_embedded", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("retry_of", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # the claim (zhiku.ingest.claims): which process runs the job and until when its lease holds;
    # a running job whose lease ran out is taken over by another process
    Column("worker", String(200)),
    Column("lease_until", DateTime(timezone=True)),
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("claims", Integer, nullable=False, default=0, server_default="0"),  # takeovers count too
    Column("cancel_requested", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_jobs_kb_created", "kb_id", "created_at"),
    Index("ix_jobs_status", "status"),
)


# Conversations (zhiku.chat.conversations): one owner each; messages in order (seq), each
# assistant message with what answered it (mode, model), its citations, latency and usage.
conversations = Table(
    "conversations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(200), nullable=False),  # the API principal's user_id
    Column("title", Text, nullable=False, default=""),
    Column("mode", String(16), nullable=False),  # llm | kb | file | search | agent
    Column("settings", JSON, nullable=False, default=dict),  # kbs, model, temperature, top_k, strict, temp_kb
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_conversations_owner_updated", "owner", "updated_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("conversation_id", String(32), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("role", String(16), nullable=False),  # user | assistant
    Column("content", Text, nullable=False, default=""),
    Column("mode", String(16)),
    Column("model", String(200)),
    Column("status", String(16), nullable=False, default="complete"),  # complete | stopped | error
    Column("citations", JSON, nullable=False, default=list),
    Column("latency_ms", Integer),
    Column("usage", JSON),
    Column("error", Text),
    Column("meta", JSON, nullable=False, default=dict),  # found, lang, warning, finish_reason, error_type
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("trace", JSON),  # agent answers: the tool calls made (zhiku.schema.ToolStep), null for others
    Index("ix_messages_conversation_seq", "conversation_id", "seq", unique=True),
)

feedback = Table(
    "feedback",
    metadata,
    Column("message_id", String(32), ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column("rating", String(8), nullable=False),  # up | down
    Column("reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Answers given on the Chatchat-compatible KB chat routes (zhiku.api.routes.chatchat_answers):
# the ``message_id`` their stream carries, so that Chatchat's ``/chat/feedback`` can rate them,
# without making each API chat a conversation of the caller (Chatchat keeps a message row per chat too).
tool_approvals = Table(  # agent tool calls waiting for their user's decision (zhiku.agent.approvals)
    "tool_approvals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("approved", Boolean),  # NULL until decided
    Column("decided_at", DateTime(timezone=True)),
)

chatchat_answers = Table(
    "chatchat_answers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(200)),  # the asking user's id ("local" on an open server)
    Column("kb", String(200), nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rating", String(8)),  # up | down, once rated
    Column("score", Integer),  # Chatchat's 0-100 score as sent
    Column("reason", Text),
    Column("rated_at", DateTime(timezone=True)),
    Index("ix_chatchat_answers_created", "created_at"),
)

# Temporary knowledge bases of file chat (zhiku.chat.files): the KB itself is a row of ``kbs``
# named with a reserved prefix; this row says whose it is and when it goes.
temp_kbs = Table(
    "temp_kbs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("job_id", String(32)),
    Column("files", JSON, nullable=False, default=list),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_temp_kbs_expires", "expires_at"),
)

# Folders a KB follows (zhiku.ingest.sync): each sync makes the KB's files under the folder's name
# match the folder. ``status`` is idle or syncing (with the ``worker`` host:pid doing it); a sync
# whose worker died is resumed; ``report`` holds the last (or running) sync's progress and outcomes.
kb_sources = Table(
    "kb_sources",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # folder
    Column("path", Text, nullable=False),  # absolute, resolved
    Column("prefix", Text, nullable=False),  # the name its files have in the KB start with "<prefix>/"
    Column("watch", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False, default="idle"),  # idle | syncing
    Column("worker", String(200)),
    Column("report", JSON, nullable=False, default=dict),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("synced_at", DateTime(timezone=True)),
    Index("ix_kb_sources_kb_path", "kb_id", "path", unique=True),
)

# Summaries (zhiku.chat.summaries): one per file (``file_id``) and one per KB (``file_id`` NULL), with
# what made it: ``kind`` llm (``model`` names the chat model) or extractive (the most central sentences,
# no model). ``source`` is the hash of what it summarised (the file's sha256; for a KB, its file
# summaries and description): a summary whose source no longer matches is stale and made again on
# its next read. ``embedding``: the summary's vector under the KB's embedder (KB-level questions).
summaries = Table(
    "summaries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kb_id", String(32), ForeignKey("kbs.id", ondelete="CASCADE"), nullable=False),
    Column("file_id", String(32), ForeignKey("files.id", ondelete="CASCADE")),
    Column("kind", String(16), nullable=False),  # llm | extractive
    Column("model", String(200)),
    Column("text", Text, nullable=False),
    Column("source", String(64), nullable=False),
    Column("embedding", LargeBinary),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_summaries_kb_file", "kb_id", "file_id"),
)
