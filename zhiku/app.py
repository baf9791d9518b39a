"""``Zhiku``: the composition root. Settings → database → indexes → models → services.

The CLI, the API and the tests all go through this object; none of them reaches
a store or a model directly.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from zhiku.config import Settings, load_settings
from zhiku.embed import Embedder, build_embedder
from zhiku.embed.cache import CachedEmbedder
from zhiku.errors import InvalidInput
from zhiku.ingest.pipeline import IngestProgress, IngestReport, Ingestor, Source, expand_paths
from zhiku.retrieval.search import Retriever
from zhiku.schema import Answer, Chunk, FileRecord, Hit, KnowledgeBase
from zhiku.store.catalog import Catalog
from zhiku.store.db import open_engine
from zhiku.store.indexes import IndexManager

log = logging.getLogger(__name__)


class Zhiku:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.engine = open_engine(settings.db_url)
        self.catalog = Catalog(self.engine)
        self.indexes = IndexManager(self.catalog, settings.home / "indexes")
        self.ingestor = Ingestor(self)
        self.retriever = Retriever(self)
        self._embedders: dict[str, Embedder] = {}
        self._embedder_lock = threading.Lock()

    @classmethod
    def open(cls, **kwargs: Any) -> "Zhiku":
        """Build settings from every source (see ``load_settings``) and open the app."""
        return cls(load_settings(**kwargs))

    def close(self) -> None:
        self.indexes.flush()
        self.engine.dispose()

    def __enter__(self) -> "Zhiku":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- models ----------------------------------------------------------------------
    def embedder(self, name: str) -> Embedder:
        with self._embedder_lock:
            if name not in self._embedders:
                self._embedders[name] = build_embedder(self.settings.embedder(name))
            return self._embedders[name]

    def cached_embedder(self, name: str) -> CachedEmbedder:
        return CachedEmbedder(self.embedder(name), self.engine)

    def embedder_score_range(self, name: str) -> tuple[float, float]:
        return self.embedder(name).score_range

    # -- knowledge bases -------------------------------------------------------------
    def create_kb(self, name: str, description: str = "", embedder: str | None = None) -> KnowledgeBase:
        embedder = embedder or self.settings.embedding.default
        self.settings.embedder(embedder)  # unknown names fail before anything is written
        ingest = self.settings.ingest
        dims = self.embedder(embedder).dimensions
        return self.catalog.create_kb(name, description, embedder, dims, ingest.chunk_size, ingest.chunk_overlap)

    def kb(self, name: str) -> KnowledgeBase:
        return self.catalog.get_kb(name)

    def list_kbs(self) -> list[KnowledgeBase]:
        return self.catalog.list_kbs()

    def delete_kb(self, name: str) -> None:
        kb = self.kb(name)
        self.catalog.delete_kb(kb.id)
        self.indexes.forget(kb.id, delete_files=True)
        shutil.rmtree(self.settings.home / "kbs" / kb.id, ignore_errors=True)

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

        return check_kb(self, self.kb(kb_name), repair)

    # -- retrieval and answers -------------------------------------------------------
    def _kbs(self, names: Sequence[str]) -> list[KnowledgeBase]:
        if not names:
            raise InvalidInput("name at least one knowledge base")
        return [self.kb(n) for n in dict.fromkeys(names)]

    def search(
        self, kb_names: Sequence[str], query: str, top_k: int | None = None, mode: str | None = None,
        file_glob: str | None = None,
    ) -> list[Hit]:
        return self.retriever.search(self._kbs(kb_names), query, top_k, mode, file_glob)

    def ask(self, kb_names: Sequence[str], question: str, top_k: int | None = None, mode: str | None = None) -> Answer:
        from zhiku.llm.extractive import ExtractiveAnswerer

        kbs = self._kbs(kb_names)
        n = max(top_k or self.settings.retrieval.top_k, self.settings.answer.passages)
        hits = self.retriever.search(kbs, question, n, mode)
        return ExtractiveAnswerer(self).answer(question, hits, kbs)
