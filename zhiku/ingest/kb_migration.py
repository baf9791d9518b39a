"""``zhiku kb migrate`` as a service: what the CLI runs in its own process and the API in a background
thread (one per KB), on top of ``zhiku.store.migrate`` (which holds the how and the why)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from zhiku.errors import InvalidInput, ZhikuError
from zhiku.schema import KnowledgeBase
from zhiku.store import migrate as store_migrate

if TYPE_CHECKING:
    from zhiku.embed.provider import Embedders
    from zhiku.store.catalog import Catalog
    from zhiku.store.indexes import IndexManager

log = logging.getLogger(__name__)


def migrate(catalog: "Catalog", indexes: "IndexManager", embedders: "Embedders", name: str, to: str | None,
            embedder: str | None, progress: Callable[[int, int], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> KnowledgeBase:
    """Move the KB ``name`` to the backend ``to`` and/or the embedder ``embedder``; returns it moved."""
    kb, plan, model = prepare(catalog, indexes, embedders, name, to, embedder)
    return complete(indexes, kb, plan, model, progress, cancelled)


def prepare(catalog: "Catalog", indexes: "IndexManager", embedders: "Embedders", name: str, to: str | None,
            embedder: str | None) -> tuple[KnowledgeBase, dict[str, Any], Any]:
    """Check the request and record the migration (or find the interrupted one it resumes): every
    mistake is raised here, before any work."""
    if not to and not embedder:
        raise InvalidInput("say where to migrate: --to embedded|postgres|milvus and/or --embedder NAME")
    kb = catalog.get_kb(name)
    model = embedders.get(embedder) if embedder and embedder != kb.embedder else None
    plan = store_migrate.begin(indexes, kb, to, embedder if model else None, model.dimensions if model else None)
    return kb, plan, model


def complete(indexes: "IndexManager", kb: KnowledgeBase, plan: dict[str, Any], model: Any,
             progress: Callable[[int, int], None] | None = None,
             cancelled: Callable[[], bool] | None = None) -> KnowledgeBase:
    """Copy, switch, drop the old copy (``prepare`` first); returns the KB as it is now."""
    try:
        vectors, lexical = store_migrate.copy(indexes, kb, plan, model, progress, cancelled)
        new = store_migrate.switch(indexes, kb, plan, vectors, lexical, model)
    except ZhikuError:
        raise
    except Exception as exc:
        store_migrate._set(indexes, kb.id, error=str(exc)[:500])
        raise
    store_migrate.finish(indexes, kb, new)
    return new


class Migrations:
    """The API's migrations: one background thread per KB; their progress is in the database (so any
    server on it answers GET), a second start while one runs is a ``Conflict``."""

    def __init__(self, catalog: "Catalog", indexes: "IndexManager", embedders: "Embedders") -> None:
        self.catalog, self.indexes, self.embedders = catalog, indexes, embedders
        self._threads: dict[str, threading.Thread] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def start(self, name: str, to: str | None, embedder: str | None) -> dict[str, Any]:
        """Check the request (a 4xx before anything starts), start the thread, return its first progress."""
        if not to and not embedder:
            raise InvalidInput("say where to migrate: 'to' (embedded, postgres, milvus) and/or 'embedder'")
        with self._lock:
            kb = self.catalog.get_kb(name)
            running = self._threads.get(kb.id)
            if running is not None and running.is_alive():
                from zhiku.errors import Conflict

                raise Conflict(f"knowledge base '{kb.name}' is being migrated already", kb=kb.name)
            kb, plan, model = prepare(self.catalog, self.indexes, self.embedders, name, to, embedder)
            thread = threading.Thread(target=self._run, args=(kb, plan, model), daemon=True,
                                      name=f"migrate-{kb.id[:8]}")
            self._threads[kb.id] = thread
            self._errors.pop(kb.id, None)
            thread.start()
        return self.progress(kb.name) or {}

    def _run(self, kb: KnowledgeBase, plan: dict[str, Any], model: Any) -> None:
        try:
            complete(self.indexes, kb, plan, model)
        except ZhikuError as exc:
            self._errors[kb.id] = str(exc)
            store_migrate._set(self.indexes, kb.id, error=str(exc)[:500])
        except Exception as exc:  # the thread's end is reported through GET, and logged
            log.exception("migration of %s failed", kb.name)
            self._errors[kb.id] = str(exc)
            store_migrate._set(self.indexes, kb.id, error=str(exc)[:500])

    def progress(self, name: str) -> dict[str, Any] | None:
        kb = self.catalog.get_kb(name)
        out = store_migrate.status(self.indexes, kb)
        if out is None:
            return None
        thread = self._threads.get(kb.id)
        if thread is not None:
            out["running"] = thread.is_alive()
        out["kb"], out["backend"] = kb.name, kb.index_backend or self.indexes.default_kind
        out["current_embedder"] = kb.embedder
        return out
