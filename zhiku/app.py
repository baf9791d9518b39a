"""``Zhiku``: the composition root. Settings → database → indexes → models → services.

The CLI, the API and the tests all go through this object; none of them reaches
a store or a model directly.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

from zhiku.config import Settings, load_settings
from zhiku.embed.base import Embedder
from zhiku.embed.provider import Embedders
from zhiku.store.embedding_cache import CachedEmbedder
from zhiku.errors import InvalidInput
from zhiku.ingest.pipeline import IngestProgress, IngestReport, Ingestor, Source, expand_paths
from zhiku.retrieval.search import Retriever
from zhiku.schema import Answer, AnswerEvent, AnswerRequest, Chunk, FileRecord, Hit, KnowledgeBase, WebResult
from zhiku.store.catalog import Catalog
from zhiku.store.db import open_engine
from zhiku.store.indexes import IndexManager

if TYPE_CHECKING:
    from zhiku.chat.conversations import Conversations
    from zhiku.chat.pipeline import AnswerPipeline
    from zhiku.chat.summaries import Summaries
    from zhiku.chat.files import TempKBs
    from zhiku.auth import AuthService
    from zhiku.ingest.job_manager import JobEvent, JobManager
    from zhiku.ingest.jobs import UploadStaging
    from zhiku.ingest.sync import KBSources
    from zhiku.schema.jobs import Job
    from typing import Iterator

    from zhiku.llm.base import CallControl
    from zhiku.llm.pull import PullResult
    from zhiku.llm.registry import ModelInfo, ModelRegistry

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class Zhiku:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.engine = open_engine(settings.db_url, settings.database_timeout_s)
        self.catalog = Catalog(self.engine)
        self.indexes = IndexManager(self.catalog, settings.home / "indexes", settings.index)
        self.embedders = Embedders(settings.embedder)
        self.ingestor = Ingestor(settings.ingest, settings.home / "kbs", self.catalog, self.indexes, self.embedders,
                                 self.cached_embedder)
        self.retriever = Retriever(settings.retrieval, self.catalog, self.indexes, self.embedders)
        from zhiku.chat.vision import Vision

        self.vision = Vision(lambda: self.settings, lambda: self.chat_models)  # pictures: captions, questions
        self.ingestor.captioner = self.vision
        try:  # files whose ingestion a crash or a kill interrupted: their records and stored copies go
            for kb_name, file_name in self.ingestor.clean_interrupted():
                log.warning("%s: removed '%s', whose adding was interrupted; add it again", kb_name, file_name)
        except Exception:  # noqa: BLE001 - opening the app must not fail over a clean-up
            log.warning("clean-up of interrupted files failed", exc_info=True)
        self._lock = threading.RLock()  # guards what is built on first use
        self._jobs: JobManager | None = None

    @classmethod
    def open(cls, **kwargs: Any) -> "Zhiku":
        """Build settings from every source (see ``load_settings``) and open the app."""
        return cls(load_settings(**kwargs))

    def close(self) -> None:
        if "_agent_services" in self.__dict__:
            from zhiku.agent.services import close_services

            close_services(self.__dict__["_agent_services"])
        if "_temp_kbs" in self.__dict__:
            self.__dict__["_temp_kbs"].stop()
        if "_sources" in self.__dict__:
            self.__dict__["_sources"].stop()
        if self._jobs is not None:
            self._jobs.shutdown()
        self.close_chat_models()
        self.retriever.close()
        self.indexes.close()  # saves what changed, releases every open index
        self.engine.dispose()

    def __enter__(self) -> "Zhiku":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models ----------------------------------------------------------------------
    def _once(self, key: str, make: Callable[[], _T]) -> _T:
        """The service stored under ``key``, built by ``make`` on first use (once, across threads)."""
        with self._lock:
            if key not in self.__dict__:
                self.__dict__[key] = make()
            built: _T = self.__dict__[key]
            return built

    def embedder(self, name: str) -> Embedder:
        return self.embedders.get(name)

    def cached_embedder(self, name: str) -> CachedEmbedder:
        return CachedEmbedder(self.embedder(name), self.engine)

    # -- knowledge bases -------------------------------------------------------------
    def create_kb(self, name: str, description: str = "", embedder: str | None = None) -> KnowledgeBase:
        from zhiku.chat.files import TEMP_PREFIX, is_temp_kb

        if is_temp_kb(name):
            raise InvalidInput(f"knowledge base names starting with '{TEMP_PREFIX}' are reserved for file chat",
                               name=name)
        embedder = embedder or self.settings.embedding.default
        self.settings.embedder(embedder)  # unknown names fail before anything is written
        ingest = self.settings.ingest
        dims = self.embedder(embedder).dimensions
        return self.catalog.create_kb(name, description, embedder, dims, ingest.chunk_size, ingest.chunk_overlap)

    def kb(self, name: str) -> KnowledgeBase:
        return self.catalog.get_kb(name)

    def list_kbs(self) -> list[KnowledgeBase]:
        from zhiku.chat.files import is_temp_kb

        return [kb for kb in self.catalog.list_kbs() if not is_temp_kb(kb.name)]  # file chat's are hidden

    def delete_kb(self, name: str) -> None:
        kb = self.kb(name)
        if self._jobs is not None:
            self._jobs.drop_kb(kb.id)  # refuses while the KB ingests
        self.catalog.delete_kb(kb.id)
        self.indexes.forget(kb.id, delete_files=True)
        shutil.rmtree(self.ingestor.kbs_root / kb.id, ignore_errors=True)

    @property
    def sources(self) -> "KBSources":
        """The folders KBs follow (``zhiku kb sync``; zhiku.ingest.sync)."""
        from zhiku.ingest.sync import KBSources

        return self._once("_sources", lambda: KBSources(self.ingestor, self.settings.ingest.sync_poll_s))

    # -- files -----------------------------------------------------------------------
    def add_files(
        self, kb_name: str, paths: Sequence[str | Path], force: bool = False,
        progress: IngestProgress | None = None, cancelled: Callable[[], bool] | None = None,
    ) -> IngestReport:
        kb = self.kb(name=kb_name)
        return self.ingestor.add(kb, expand_paths(paths), force, progress, cancelled)

    def add_sources(
        self, kb_name: str, sources: list[Source], force: bool = False, progress: IngestProgress | None = None,
    ) -> IngestReport:
        return self.ingestor.add(self.kb(kb_name), sources, force, progress)

    def list_files(self, kb_name: str) -> list[FileRecord]:
        return self.catalog.list_files(self.kb(kb_name).id)

    def remove_files(self, kb_name: str, names: Sequence[str]) -> list[str]:
        return self.ingestor.remove(self.kb(kb_name), list(names))

    def unindex_file(self, kb_name: str, name: str, reason: str) -> bool:
        """Out of search, kept (``failed`` with ``reason``, stored copy and all); a re-ingest brings it back."""
        return self.ingestor.unindex(self.kb(kb_name), name, reason)

    def file_chunks(self, kb_name: str, file: str) -> tuple[FileRecord, list[Chunk]]:
        kb = self.kb(kb_name)
        record = self._file(kb, file)
        return record, self.catalog.file_chunks(record.id)

    def stored_file(self, kb_name: str, file: str) -> tuple[FileRecord, Path]:
        kb = self.kb(kb_name)
        record = self._file(kb, file)
        return record, self.ingestor.stored_path(kb, record.id)

    def _file(self, kb: KnowledgeBase, file: str) -> FileRecord:
        from zhiku.errors import NotFound

        versions = self.catalog.files_named(kb.id, file) or [
            f for f in self.catalog.list_files(kb.id) if f.id == file]
        indexed = [f for f in versions if f.status == "indexed"]
        if not versions:
            raise NotFound(f"no file '{file}' in knowledge base '{kb.name}'", file=file)
        return (indexed or versions)[-1]

    # -- maintenance -----------------------------------------------------------------
    def rebuild(self, kb_name: str) -> int:
        """Re-derive the KB's indexes from the database; returns the chunk count."""
        kb = self.kb(kb_name)
        return len(self.indexes.rebuild(kb).vectors)

    def check(self, kb_name: str, repair: bool = False) -> list[str]:
        """Problems found between the database, the stored files and the indexes."""
        from zhiku.store.maintenance import check_kb

        kb = self.kb(kb_name)
        return check_kb(kb, self.catalog, self.indexes, self.ingestor.stored_dir(kb), repair)

    def warm_up(self) -> dict[str, float]:
        """Load every KB's indexes and their query embedders now (server start), not on the first
        question; returns seconds spent per part."""
        from zhiku.retrieval.warmup import warm_up

        return warm_up(self.list_kbs(), self.retriever, self.embedders)

    # -- retrieval and answers -------------------------------------------------------
    def _kbs(self, names: Sequence[str]) -> list[KnowledgeBase]:
        if not names:
            raise InvalidInput("name at least one knowledge base")
        return [self.kb(n) for n in dict.fromkeys(names)]

    def search(
        self, kb_names: Sequence[str], query: str, top_k: int | None = None, mode: str | None = None,
        file_glob: str | None = None, rerank: str | None = None,
    ) -> list[Hit]:
        """``rerank``: the reranker for this search instead of ``retrieval.rerank``."""
        return self.retriever.search(self._kbs(kb_names), query, top_k, mode, file_glob, rerank=rerank)

    def answer(self, request: AnswerRequest, control: "CallControl | None" = None) -> Answer:
        """Answer a question in any mode (``request.mode``: llm, kb, file, search) through the answer
        pipeline, the one every face uses."""
        return self.answers.answer(request, control)

    def answer_stream(self, request: AnswerRequest, control: "CallControl | None" = None) -> "Iterator[AnswerEvent]":
        """The answer's events: ``Retrieved``, ``Notice``, ``Delta``... and ``Final`` (always last).
        The request is checked first (its errors raise here); closing the iterator stops the model,
        and so does ``control.cancel.set()`` from another thread."""
        return self.answers.stream(request, control)

    # -- editing through the API -----------------------------------------------------
    def update_kb(self, name: str, new_name: str | None = None, description: str | None = None) -> KnowledgeBase:
        from zhiku.chat.files import TEMP_PREFIX, is_temp_kb

        if new_name is not None and is_temp_kb(new_name):
            raise InvalidInput(f"knowledge base names starting with '{TEMP_PREFIX}' are reserved for file chat",
                               name=new_name)
        kb = self.kb(name)
        self.catalog.update_kb_info(kb.id, name=new_name, description=description)
        return self.catalog.get_kb_by_id(kb.id)

    def file(self, kb_name: str, file_id: str) -> FileRecord:
        """A file of the KB by id (never by name)."""
        from zhiku.errors import NotFound

        kb = self.kb(kb_name)
        try:
            record = self.catalog.get_file(file_id)
        except NotFound:
            record = None
        if record is None or record.kb_id != kb.id:
            raise NotFound(f"no file {file_id} in knowledge base '{kb.name}'", file_id=file_id)
        return record

    def delete_file(self, kb_name: str, file_id: str) -> None:
        """Remove one file version by id (its chunks leave the indexes, its stored copy goes)."""
        record = self.file(kb_name, file_id)
        self.ingestor.remove(self.kb(kb_name), [record.id])

    def file_content(self, kb_name: str, file_id: str) -> tuple[FileRecord, Path]:
        """The file record and the path of its stored original bytes."""
        from zhiku.errors import NotFound

        record = self.file(kb_name, file_id)
        path = self.ingestor.stored_path(self.kb(kb_name), record.id)
        if not path.is_file():
            raise NotFound(f"the stored copy of '{record.name}' is missing", file_id=file_id)
        return record, path

    def chunk(self, kb_name: str, chunk_id: int) -> Chunk:
        return self.catalog.get_chunk(self.kb(kb_name).id, chunk_id)

    def edit_chunk(self, kb_name: str, chunk_id: int, text: str) -> Chunk:
        """Replace a chunk's text: re-embedded, re-tokenised, searchable as edited at once."""
        kb = self.kb(kb_name)
        self.ingestor.edit_chunk(kb, chunk_id, text)
        return self.catalog.get_chunk(kb.id, chunk_id)

    def delete_chunk(self, kb_name: str, chunk_id: int) -> None:
        self.ingestor.delete_chunk(self.kb(kb_name), chunk_id)

    def health(self) -> dict[str, Any]:
        """Raises Unavailable when the database cannot be reached."""
        from sqlalchemy import text

        from zhiku.errors import Unavailable

        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300] or type(exc).__name__
            raise Unavailable(f"the database is not reachable: {reason}") from None
        running = len(self._jobs.list(status="running")) if self._jobs is not None else 0
        return {"status": "ok", "database": "ok", "jobs_running": running}

    # -- users, API keys and KB access (zhiku.auth) ---------------------------------
    @property
    def auth(self) -> "AuthService":
        """Users, API keys and who may use which knowledge base."""
        from zhiku.auth import AuthService

        return self._once("_auth", lambda: AuthService(self.engine, self.settings.auth))

    # -- background ingestion jobs (the server starts them) --------------------------
    @property
    def jobs(self) -> "JobManager":
        if self._jobs is None:
            from zhiku.errors import Unavailable

            raise Unavailable("background jobs are not started (they run inside `zhiku start`)")
        return self._jobs

    def start_jobs(self, workers: int | None = None, ingest: bool | None = None,
                   on_event: "Callable[[JobEvent, Job], None] | None" = None) -> "JobManager":
        """Start background jobs: this process claims queued ingestion jobs from the database (with
        ``workers`` threads) unless ``ingest`` is false (default: setting ``jobs.ingest_in_server``)."""
        from zhiku.ingest.job_manager import JobManager

        if self._jobs is None:
            s = self.settings
            self._jobs = JobManager(s.home / "uploads", self.engine, self.catalog, self.ingestor,
                                    workers or s.server.ingest_workers, s.ingest.max_file_mb << 20,
                                    s.server.max_upload_mb << 20, s.jobs,
                                    s.jobs.ingest_in_server if ingest is None else ingest, on_event,
                                    lambda: self.embedder(s.embedding.default).embed_passages(["warm up 预热"]))
        return self._jobs

    def stage_upload(self) -> "UploadStaging":
        return self.jobs.stage()

    def submit_upload(self, kb_name: str, staging: "UploadStaging", force: bool = False) -> "Job":
        try:
            kb = self.kb(kb_name)
        except Exception:
            staging.discard()
            raise
        return self.jobs.submit(kb, staging, force)

    def reingest(self, kb_name: str, file_id: str) -> "Job":
        record, path = self.file_content(kb_name, file_id)
        return self.jobs.submit_reingest(self.kb(kb_name), record, path)

    def job(self, job_id: str) -> "Job":
        return self.jobs.get(job_id)

    def list_jobs(self, kb_name: str | None = None, status: str | None = None, limit: int = 50) -> list["Job"]:
        return self.jobs.list(self.kb(kb_name).id if kb_name else None, status, limit)

    def cancel_job(self, job_id: str) -> "Job":
        return self.jobs.cancel(job_id)

    def retry_job(self, job_id: str) -> "Job":
        return self.jobs.retry(job_id)

    def delete_job(self, job_id: str) -> None:
        self.jobs.delete(job_id)

    def watch_job(self, job_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        return self.jobs.watch(job_id, callback)

    # -- chat models and generated answers (zhiku.llm, zhiku.chat) -------------------
    @property
    def chat_models(self) -> "ModelRegistry":
        """Configured, pulled and detected chat models (built on first use)."""
        from zhiku.llm.registry import ModelRegistry

        return self._once("_chat_models", lambda: ModelRegistry(self.settings))

    def list_chat_models(self, check: bool = True) -> list["ModelInfo"]:
        """Every chat model the app can use; ``check`` asks each server whether it answers."""
        return self.chat_models.list(check=check)

    # -- web search (zhiku.websearch, zhiku.chat.web) ---------------------------------
    def web_search(self, query: str, limit: int | None = None, engine: str | None = None) -> list[WebResult]:
        """Results of the configured search engine (or ``engine``); no page is fetched."""
        return self.answers.web_chat.search(query, limit, engine)

    # -- the agent's tools (zhiku.agent) -----------------------------------------------
    @property
    def agent_services(self) -> dict[str, Any]:
        """What the agent's tools are built on (``ToolContext.services``; built once, shared by answers):
        the retriever, the catalog, the web engine and guarded fetcher, the KBs' tables, the admin's databases."""
        from zhiku.agent.services import agent_services

        return self._once("_agent_services", lambda: agent_services(
            self.settings, self.catalog, self.retriever, self.ingestor.stored_path))

    def pull_model(
        self, what: str, mirror: str | None = None, sha256: str | None = None, name: str | None = None,
        progress: Callable[[int, int | None], None] | None = None, cancelled: Callable[[], bool] | None = None,
    ) -> "PullResult":
        """Download a curated GGUF (by name) or any GGUF URL into HOME/models and register it."""
        from zhiku.llm.pull import pull

        return pull(self.settings, what, mirror, sha256, name, progress, cancelled)

    def close_chat_models(self) -> None:
        registry = self.__dict__.pop("_chat_models", None)
        if registry is not None:
            registry.close()

    # -- conversations and chat in every mode (zhiku.chat) ---------------------------
    @property
    def conversations(self) -> "Conversations":
        """Conversations, messages and feedback (each call names the owner)."""
        from zhiku.chat.conversations import Conversations

        return self._once("_conversations", lambda: Conversations(self.engine, self.settings.chat.title_chars))

    @property
    def temp_kbs(self) -> "TempKBs":
        """File chat's temporary knowledge bases (uploaded files with a time to live)."""
        from zhiku.chat.files import TempKBs

        return self._once("_temp_kbs", lambda: TempKBs(
            self.engine, self.catalog, self.settings.chat, self.settings.ingest, self.settings.embedding.default,
            lambda name: self.embedders.get(name).dimensions, lambda: self._jobs, self.delete_kb))

    @property
    def summaries(self) -> "Summaries":
        """Summaries of files and KBs (stored with the model that made them; made again when stale)."""
        from zhiku.chat.summaries import Summaries

        return self._once("_summaries", lambda: Summaries(self.engine, self.catalog, self.kb, self.embedder,
                                                          lambda: self.chat_models))

    @property
    def answers(self) -> "AnswerPipeline":
        """The answer pipeline (built on first use): every question of every face goes through it."""
        return self._once("_answers", self._answer_pipeline)

    def _answer_pipeline(self) -> "AnswerPipeline":
        from zhiku.chat.agent import AgentChat
        from zhiku.chat.kb import KBChat
        from zhiku.chat.kb_answers import KBAnswers
        from zhiku.chat.context import ContextWidener
        from zhiku.chat.llm import LLMChat
        from zhiku.chat.pipeline import AnswerPipeline
        from zhiku.chat.routing import kb_profile
        from zhiku.retrieval.routing import Router
        from zhiku.chat.web import WebChat
        from zhiku.llm.extractive import ExtractiveAnswerer

        s = self.settings
        extractive = ExtractiveAnswerer(s.retrieval.relevance_floor, s.answer, self.cached_embedder,
                                        self.embedders.score_range, self.retriever.query_vector)
        return AnswerPipeline(s, self.kb, self.retriever, lambda: self.chat_models, lambda: self.temp_kbs,
                              KBChat(s.llm, extractive,
                                     ContextWidener(self.engine, s.answer.context_chars, s.answer.context_langs,
                                                    s.answer.prompt_context_chars, s.answer.prompt_context_langs)),
                              LLMChat(), WebChat(s, self.embedders.get, extractive),
                              AgentChat(s, self.retriever, lambda: {**self.agent_services, "kb": self.kb}),
                              router=Router(self.retriever, kb_profile(self.engine)),
                              kb_answers=KBAnswers(self.engine, self.catalog, self.summaries))
