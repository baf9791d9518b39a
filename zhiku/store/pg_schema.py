"""The tables of the database-resident index backends on PostgreSQL (``pgvector``, ``pg_bm25``).

They live beside the catalog's tables in the same database, keyed by a *scope* (the KB id; a
contract test's index gets a scope of its own) and the chunk id, and are written in the same
transaction as the chunks they describe (``zhiku.store.pg_indexes``):

- ``chunk_vectors``: one ``halfvec`` per chunk with its ``dimensions``; one HNSW index per dimension
  in use, a partial expression index ``((embedding::halfvec(D))) WHERE dimensions = D``, made when a
  KB of that dimension is first opened (``ensure_hnsw``);
- ``lexical_docs`` (a document's length) and ``lexical_postings`` (term → document, term frequency
  and length): BM25 computed at query time from live counts, as the built-in ``bm25`` does.
  The primary key (kb_id, term, id) INCLUDEs tf and length: a term's postings are read from the index
  alone (an index-only scan), not from heap pages scattered by insertion order (6x faster at 100k chunks);
- ``lexical_terms``: per scope and term, how many documents hold it (its BM25 document frequency) and
  its postings packed in one row (cleared by any write of the term, refilled by the next search that
  needs it), so a search reads a term as one row instead of counting and aggregating its postings;
- ``index_stats``: per scope, how many vectors and documents and their total length (no count(*)
  on the search path).

Migration 0003 creates them on PostgreSQL when pgvector is available there (``create_tables``);
SQLite never has them. A server that gains pgvector later gets them at the first start with these
backends (``check_postgres`` creates what is missing, idempotently).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from zhiku.errors import ConfigError

TABLES = ("chunk_vectors", "lexical_docs", "lexical_postings", "lexical_terms", "index_stats")
MIN_PGVECTOR = (0, 7)  # halfvec and HNSW over halfvec expressions came in pgvector 0.7

DDL = (
    """CREATE TABLE IF NOT EXISTS chunk_vectors (
        kb_id varchar(64) NOT NULL, id bigint NOT NULL, dimensions integer NOT NULL,
        embedding halfvec NOT NULL, PRIMARY KEY (kb_id, id))""",
    """CREATE TABLE IF NOT EXISTS lexical_docs (
        kb_id varchar(64) NOT NULL, id bigint NOT NULL, length integer NOT NULL, PRIMARY KEY (kb_id, id))""",
    """CREATE TABLE IF NOT EXISTS lexical_postings (
        kb_id varchar(64) NOT NULL, term text NOT NULL, id bigint NOT NULL, tf integer NOT NULL,
        length integer NOT NULL, PRIMARY KEY (kb_id, term, id) INCLUDE (tf, length))""",
    # by chunk id alone (ids are unique in a database): a (kb_id, ...) index here would tempt the planner
    # away from the (kb_id, term) lookups of a search when a new KB has no statistics yet
    "CREATE INDEX IF NOT EXISTS ix_lexical_postings_doc ON lexical_postings (id)",
    # per KB and term (migration 0009): its document frequency and a version, both changed with the postings
    # in the same transactions (under the KB's index_stats row lock), and the term's postings packed as
    # arrays (ids int8, tf and length int4, big-endian), filled by searches and cleared by every write of
    # the term: a search reads a term's postings as one row, valid exactly when present
    """CREATE TABLE IF NOT EXISTS lexical_terms (
        kb_id varchar(64) NOT NULL, term text NOT NULL, df integer NOT NULL, ver bigint NOT NULL DEFAULT 0,
        ids bytea, tfs bytea, lens bytea, PRIMARY KEY (kb_id, term))""",
    # uncompressed: packed ids hardly compress, and a search reads them whole
    "ALTER TABLE lexical_terms ALTER COLUMN ids SET STORAGE EXTERNAL, ALTER COLUMN tfs SET STORAGE EXTERNAL, "
    "ALTER COLUMN lens SET STORAGE EXTERNAL",
    """CREATE TABLE IF NOT EXISTS index_stats (
        kb_id varchar(64) PRIMARY KEY, vectors bigint NOT NULL DEFAULT 0, docs bigint NOT NULL DEFAULT 0,
        total_len bigint NOT NULL DEFAULT 0)""",
)


def pgvector_state(conn: Connection) -> tuple[str | None, str | None]:
    """(installed version in this database, version the server could install), None when absent."""
    installed = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
    available = conn.execute(text(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")).scalar()
    return installed, available


def create_tables(conn: Connection) -> bool:
    """Enable pgvector (when the server has it and the role may) and create the tables; False, with
    nothing changed, when pgvector cannot be enabled here. Runs inside the caller's transaction."""
    installed, available = pgvector_state(conn)
    if installed is None:
        if available is None:
            return False
        try:
            with conn.begin_nested():  # a refused CREATE EXTENSION must not abort the caller's transaction
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        except Exception:  # noqa: BLE001 - no privilege: check_postgres explains it when the backend is chosen
            return False
    new_terms = conn.execute(text("SELECT to_regclass('lexical_terms')")).scalar() is None
    for statement in DDL:
        conn.execute(text(statement))
    if new_terms:  # postings written before the table: their document frequencies, counted once
        conn.execute(text("INSERT INTO lexical_terms (kb_id, term, df) "
                          "SELECT kb_id, term, count(*) FROM lexical_postings GROUP BY kb_id, term"))
    return True


def _where(engine: Engine) -> str:
    url = engine.url
    return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}, database '{url.database}'"


def check_postgres(engine: Engine, setting: str) -> None:
    """At start: the database is PostgreSQL with pgvector >= 0.7 enabled and the tables there (made now
    when missing). ``ConfigError`` in one line naming what is missing otherwise. ``setting`` names what
    asked for it (e.g. "index.vector 'pgvector'")."""
    if engine.dialect.name != "postgresql":
        raise ConfigError(
            f"{setting} needs a PostgreSQL database_url (postgresql+psycopg://user@host/db); "
            f"this database is {engine.dialect.name}", setting=setting)
    with engine.begin() as conn:
        installed, available = pgvector_state(conn)
        role = conn.execute(text("SELECT current_user")).scalar()
        if installed is None and available is None:
            raise ConfigError(
                f"{_where(engine)} has no pgvector extension ({setting} needs it): install pgvector "
                f"{'.'.join(map(str, MIN_PGVECTOR))} or later on the database server, then CREATE EXTENSION vector",
                setting=setting)
        if installed is None and not create_tables(conn):
            raise ConfigError(
                f"{_where(engine)}: pgvector {available} is installed on the server but not enabled in this "
                f"database, and role '{role}' may not enable it: run CREATE EXTENSION vector as a superuser",
                setting=setting)
        installed = installed or pgvector_state(conn)[0]
        assert installed is not None
        version = tuple(int(p) for p in installed.split(".")[:2] if p.isdigit())
        if version < MIN_PGVECTOR:
            raise ConfigError(
                f"{_where(engine)} has pgvector {installed}; {setting} needs "
                f"{'.'.join(map(str, MIN_PGVECTOR))} or later (halfvec): ALTER EXTENSION vector UPDATE",
                setting=setting)
        missing = [t for t in TABLES if conn.execute(text("SELECT to_regclass(:t)"), {"t": t}).scalar() is None]
        if missing:
            create_tables(conn)


# The graph's degree and build effort: m 16 / ef_construction 64 (pgvector's defaults) found 0.39 of the
# true top 10 on 20k random 384-d vectors even at ef_search 100, 0.81 at 400; m 32 / 128 finds >= 0.95 at
# 400. Indexes made before keep their settings until dropped (DROP INDEX ix_chunk_vectors_hnsw_<D>: the
# next open builds it again).
HNSW_M, HNSW_EF_CONSTRUCTION = 32, 128


def hnsw_index_name(dimensions: int) -> str:
    return f"ix_chunk_vectors_hnsw_{int(dimensions)}"


def ensure_hnsw(engine: Engine, dimensions: int) -> None:
    """The HNSW index of ``dimensions``-sized vectors (cosine on normalised vectors = inner product)."""
    d = int(dimensions)
    name = hnsw_index_name(d)
    with engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None:
            return
    try:
        with engine.begin() as conn:
            conn.execute(text(
                f"CREATE INDEX IF NOT EXISTS {name} ON chunk_vectors USING hnsw "
                f"((embedding::halfvec({d})) halfvec_ip_ops) WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION}) "
                f"WHERE dimensions = {d}"))
    except Exception:  # noqa: BLE001 - another process made it at the same moment
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is None:
                raise
