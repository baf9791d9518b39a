"""Summaries of files and knowledge bases (issue 19, item 2).

A file's summary is written by a chat model (map-reduce over its chunks within the model's
context: ``zhiku.chat.summaries_llm``) or, without one, quoted: its most central sentences
(``zhiku.chat.summaries_extractive``), labelled as extractive wherever it is shown. A KB's summary
is made from its description and its files' summaries the same way.

Each is stored with what made it (``kind``, ``model``, when) and the hash of what it summarised.
Refresh is lazy: a change of a file (re-ingest, replacement, chunk edit) or of the KB's files
makes the stored summary stale, and it is made again on its next read (the summary routes, the
CLI, KB-level questions); a removed file's summary goes with it (ON DELETE CASCADE). Nothing is
added to ingestion, so uploads cost no model calls. ``POST .../summary`` makes one again now.

Summaries are searchable beside the chunks, not among them: each carries its vector under the
KB's embedder, and ``search`` ranks a KB's files by their summaries (KB-level questions,
``zhiku.chat.kb_questions``). Chunk search never sees them, so ordinary recall is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy.engine import Engine

from zhiku.chat.summaries_extractive import central_sentences, extractive_text
from zhiku.chat.summaries_llm import MapReduce
from zhiku.chat.summaries_store import StoredSummary, SummaryStore, file_source, kb_source
from zhiku.errors import InvalidInput, NotFound
from zhiku.schema import FileRecord, KnowledgeBase
from zhiku.schema.summaries import Summary, label_for
from zhiku.store.catalog import Catalog
from zhiku.text.normalize import detect_lang

if TYPE_CHECKING:
    from zhiku.embed.base import Embedder
    from zhiku.llm.registry import ModelRegistry

FILE_SENTENCES = 3  # an extractive file summary quotes this many sentences
KB_SENTENCES = 5
EMBED_BATCH = 64  # extractive summaries made for a KB-level question are embedded this many at a time


class Summaries:
    def __init__(self, engine: Engine, catalog: Catalog, kb: Callable[[str], KnowledgeBase],
                 embedder: Callable[[str], "Embedder"], chat_models: Callable[[], "ModelRegistry"]) -> None:
        self.store = SummaryStore(engine)
        self.catalog, self.kb, self.embedder, self.chat_models = catalog, kb, embedder, chat_models
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # -- files -----------------------------------------------------------------------
    def file(self, kb_name: str, file: str, refresh: bool = False, model: str | None = None,
             extractive: bool = False) -> Summary:
        """A file's summary (by name, folders included, or id): the stored one while it is fresh,
        else made now (and stored); ``refresh`` makes it again in any case."""
        kb = self.kb(kb_name)
        record = self.resolve(kb, file)
        return self.view(kb, record, self._file(kb, record, refresh, model, extractive))

    def resolve(self, kb: KnowledgeBase, file: str) -> FileRecord:
        versions = self.catalog.files_named(kb.id, file) or [f for f in self.catalog.list_files(kb.id) if f.id == file]
        if not versions:
            raise NotFound(f"no file '{file}' in knowledge base '{kb.name}'", file=file)
        indexed = [f for f in versions if f.status == "indexed"]
        if not indexed:
            raise InvalidInput(f"'{file}' is {versions[-1].status}: only indexed files have a summary", file=file)
        return indexed[-1]

    def _file(self, kb: KnowledgeBase, record: FileRecord, refresh: bool = False, model: str | None = None,
              extractive: bool = False, llm_allowed: bool = True) -> StoredSummary:
        source = file_source(record)
        with self._lock(record.id):
            stored = self.store.get(kb.id, record.id)
            if stored is not None and stored.source == source and not refresh:
                return stored
            texts = [c.text for c in self.catalog.file_chunks(record.id)]
            chosen = self._model(model, extractive) if llm_allowed else None
            if chosen is None:
                text = extractive_text(texts, FILE_SENTENCES) or record.name
            else:
                lang = detect_lang(" ".join(texts)[:2000])
                text = MapReduce(self.chat_models().get(chosen), lang).file(record.name, texts)
            return self.store.put(kb.id, record.id, "llm" if chosen else "extractive", chosen, text, source,
                                  self._embed(kb, text))

    def all_files(self, kb: KnowledgeBase, llm_allowed: bool = False) -> list[tuple[FileRecord, StoredSummary]]:
        """Every indexed file with a fresh summary: those stored, and the missing or stale ones
        made now (extractive unless ``llm_allowed``: a question must not wait on a model per file)."""
        stored = self.store.all_files(kb.id)
        records = self.catalog.list_files(kb.id, status="indexed")
        missing = [r for r in records if r.id not in stored or stored[r.id].source != file_source(r)]
        if llm_allowed:
            stored.update({r.id: self._file(kb, r) for r in missing})
        else:  # extractive, their vectors embedded in batches
            for start in range(0, len(missing), EMBED_BATCH):
                batch = missing[start:start + EMBED_BATCH]
                texts = [extractive_text([c.text for c in self.catalog.file_chunks(r.id)], FILE_SENTENCES) or r.name
                         for r in batch]
                vectors = np.asarray(self.embedder(kb.embedder).embed_passages(texts), dtype=np.float32)
                for r, text, vector in zip(batch, texts, vectors):
                    stored[r.id] = self.store.put(kb.id, r.id, "extractive", None, text, file_source(r), vector)
        return [(r, stored[r.id]) for r in records]

    def listed(self, kb_name: str) -> list[Summary]:
        """The file summaries stored now, for a file table: none is made (``stale`` marks those of
        files changed since; reading one makes it again)."""
        kb = self.kb(kb_name)
        stored = self.store.all_files(kb.id)
        out = []
        for record in self.catalog.list_files(kb.id, status="indexed"):
            s = stored.get(record.id)
            if s is not None:
                out.append(self.view(kb, record, s).model_copy(update={"stale": s.source != file_source(record)}))
        return out

    # -- the knowledge base ----------------------------------------------------------
    def of_kb(self, kb_name: str, refresh: bool = False, model: str | None = None, extractive: bool = False,
              refresh_files: bool = False) -> Summary:
        """The KB's summary, from its description and its files' summaries (made first where
        missing or stale; every one again with ``refresh_files``)."""
        kb = self.kb(kb_name)
        records = self.catalog.list_files(kb.id, status="indexed")
        parts = [(r, self._file(kb, r, refresh_files, model, extractive)) for r in records]
        return self.view(kb, None, self._kb(kb, parts, refresh, model, extractive), len(parts))

    def stored_kb(self, kb: KnowledgeBase, parts: Sequence[tuple[FileRecord, StoredSummary]]) -> StoredSummary:
        """The KB's summary over these file summaries, made without a model when it is stale."""
        return self._kb(kb, parts, False, None, True)

    def _kb(self, kb: KnowledgeBase, parts: Sequence[tuple[FileRecord, StoredSummary]], refresh: bool,
            model: str | None, extractive: bool) -> StoredSummary:
        source = kb_source(kb.description, [(r.id, s) for r, s in parts])
        with self._lock(kb.id):
            stored = self.store.get(kb.id, None)
            if stored is not None and stored.source == source and not refresh:
                return stored
            chosen = self._model(model, extractive) if parts else None
            if chosen is None:
                # one central sentence of each file's summary, then the most central of those
                firsts = [" ".join(central_sentences([s.text], 1)) for _, s in parts]
                text = "\n".join(t for t in (kb.description.strip(), extractive_text(firsts, KB_SENTENCES)) if t)
            else:
                texts = ([kb.description] if kb.description.strip() else []) + [
                    f"{r.name}: {s.text}" for r, s in parts]
                lang = detect_lang(" ".join(texts)[:2000])
                text = MapReduce(self.chat_models().get(chosen), lang).kb(kb.name, texts)
            return self.store.put(kb.id, None, "llm" if chosen else "extractive", chosen, text, source,
                                  self._embed(kb, text) if text else None)

    # -- summaries of given text (Chatchat's summary_doc_ids_to_vector_store) ---------
    def of_texts(self, kb_name: str, name: str, texts: Sequence[str], model: str | None = None,
                 extractive: bool = False) -> tuple[str, str, str | None]:
        """A summary of ``texts`` (not stored): (text, kind, model)."""
        self.kb(kb_name)
        chosen = self._model(model, extractive)
        if chosen is None:
            return extractive_text(texts, FILE_SENTENCES), "extractive", None
        lang = detect_lang(" ".join(texts)[:2000])
        return MapReduce(self.chat_models().get(chosen), lang).file(name, texts), "llm", chosen

    # -- search beside the chunks ----------------------------------------------------
    def search(self, kb: KnowledgeBase, query: str, parts: Sequence[tuple[FileRecord, StoredSummary]] | None = None,
               ) -> list[tuple[FileRecord, StoredSummary, float]]:
        """The KB's files ranked by how close their summaries are to ``query`` (cosine under the
        KB's embedder), best first."""
        parts = list(parts if parts is not None else self.all_files(kb))
        with_vectors = [(r, s) for r, s in parts if s.vector is not None]
        if not with_vectors:
            return []
        q = np.asarray(self.embedder(kb.embedder).embed_query(query), dtype=np.float32)
        matrix = np.stack([s.vector for _, s in with_vectors if s.vector is not None])
        scores = matrix @ q
        order = np.argsort(-scores, kind="stable")
        return [(with_vectors[i][0], with_vectors[i][1], float(scores[i])) for i in order]

    # -- helpers ---------------------------------------------------------------------
    def view(self, kb: KnowledgeBase, record: FileRecord | None, s: StoredSummary, files: int | None = None) -> Summary:
        return Summary(kb=kb.name, file=record.name if record else None, file_id=record.id if record else None,
                       kind="llm" if s.kind == "llm" else "extractive", model=s.model,
                       label=label_for(s.kind, s.model, record is None), text=s.text, created_at=s.created_at,
                       files=files)

    def _model(self, model: str | None, extractive: bool) -> str | None:
        """The chat model that writes the summary: ``model``, else the default one; None: extractive."""
        if extractive:
            if model:
                raise InvalidInput("an extractive summary quotes the file: it takes no chat model", model=model)
            return None
        registry = self.chat_models()
        if model:
            registry.config(model)  # an unknown model fails here
            return model
        return registry.default_name()

    def _embed(self, kb: KnowledgeBase, text: str) -> np.ndarray:
        return np.asarray(self.embedder(kb.embedder).embed_passages([text])[0], dtype=np.float32)

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())
