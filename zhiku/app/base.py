"""What every face of ``Zhiku`` stands on: the settings, the stores and the models built on opening."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from zhiku.config import Settings
from zhiku.embed.base import Embedder
from zhiku.embed.provider import Embedders
from zhiku.ingest.pipeline import Ingestor
from zhiku.retrieval.search import Retriever
from zhiku.store.catalog import Catalog
from zhiku.store.engines import open_engine
from zhiku.store.embedding_cache import CachedEmbedder
from zhiku.store.indexes import IndexManager

if TYPE_CHECKING:
    from zhiku.auth import AuthService
    from zhiku.ingest.job_manager import JobManager
    from zhiku.llm.registry import ModelRegistry

log = logging.getLogger("zhiku.app")
_T = TypeVar("_T")


class AppBase:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.engine = open_engine(settings.db_url, settings.database_timeout_s, settings.database_pool_size,
                                  settings.database_pool_overflow)
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

    @property
    def chat_models(self) -> "ModelRegistry":
        """Configured, pulled and detected chat models (built on first use)."""
        from zhiku.llm.registry import ModelRegistry

        return self._once("_chat_models", lambda: ModelRegistry(self.settings))

    def close_chat_models(self) -> None:
        registry = self.__dict__.pop("_chat_models", None)
        if registry is not None:
            registry.close()

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
