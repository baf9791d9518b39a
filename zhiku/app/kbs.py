"""``Zhiku``'s knowledge-base face: KBs, their files and chunks, search, maintenance."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from zhiku.app.base import AppBase
from zhiku.errors import InvalidInput
from zhiku.ingest.pipeline import IngestProgress, IngestReport, Source, expand_paths
from zhiku.schema import Chunk, FileRecord, Hit, KnowledgeBase

if TYPE_CHECKING:
    from zhiku.ingest.sync import KBSources


class KBFace(AppBase):
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

        from zhiku.ingest.pictures import images_dir, picture_problems

        kb = self.kb(kb_name)
        problems = check_kb(kb, self.catalog, self.indexes, self.ingestor.stored_dir(kb), repair)
        return problems + picture_problems(images_dir(self.ingestor.kbs_root, kb.id),
                                           lambda: self.catalog.picture_ids(kb.id), repair)

    def warm_up(self) -> dict[str, float]:
        """Load every KB's indexes and their query embedders now (server start), not on the first
        question; returns seconds spent per part."""
        from zhiku.retrieval.warmup import warm_up

        return warm_up(self.list_kbs(), self.retriever, self.embedders)

    # -- retrieval -------------------------------------------------------------------
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
