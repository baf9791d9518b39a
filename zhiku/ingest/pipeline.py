"""Adding files to a knowledge base: hash, store, load, split, embed, commit.

Each file is its own unit of work. A file row is written ``pending`` first; its
chunks and the status flip to ``indexed`` land in one transaction that also
retires the file's older versions, so a crash at any point leaves the KB as it
was before that file (and re-running the same command completes it). A file of
more than ``stage_chunks`` chunks writes them in batches while it is still
``pending`` (never searchable) and flips in one final transaction (staged.py).
One bad file is recorded as ``failed`` with its reason and never stops the batch.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from zhiku.errors import Cancelled, InvalidInput, NotFound, ZhikuError
from zhiku.ingest.pending import PendingLocks
from zhiku.ingest.sources import IngestProgress, IngestReport, Source, _Silent, expand_paths, name_clashes
from zhiku.ingest.staged import STAGE_CHUNKS, chunk_row, index_in_batches, replace_chunks
from zhiku.schema import FileRecord, KnowledgeBase
from zhiku.text.ids import sha256_file

if TYPE_CHECKING:
    from zhiku.config import IngestSettings
    from zhiku.embed.provider import Embedders
    from zhiku.ingest.pictures import Captioner
    from zhiku.store.catalog import Catalog
    from zhiku.store.embedding_cache import CachedEmbedder
    from zhiku.store.indexes import IndexManager

__all__ = ["IngestProgress", "IngestReport", "Ingestor", "Source", "expand_paths", "name_clashes"]
log = logging.getLogger(__name__)


@dataclass
class _Prepared:
    """What can be done for a file before its turn: hash it and, unless it is about to be
    skipped as unchanged, read, split and tokenise it (a loader's error is kept for its turn)."""

    size: int = 0
    sha: str = ""
    parsed: tuple[Any, list[Any], list[list[str]] | None] | None = None  # (document, drafts, tokens)
    error: BaseException | None = None


class Ingestor:
    """Changes what a KB holds: files added, replaced and removed, chunks edited and deleted.
    Each change reaches the database and the KB's indexes together (``_change``)."""

    captioner: "Captioner | None" = None  # the vision model that captions pictures (the app sets it)

    def __init__(self, settings: "IngestSettings", kbs_root: Path, catalog: "Catalog", indexes: "IndexManager",
                 embedders: "Embedders", passage_embedder: Callable[[str], "CachedEmbedder"]) -> None:
        """``kbs_root``: the folder of the KBs' stored files (HOME/kbs); ``passage_embedder``: an
        embedder by name behind the embedding cache (vectors of unchanged text are not recomputed)."""
        self.settings, self.kbs_root, self.catalog, self.indexes = settings, kbs_root, catalog, indexes
        self.embedders, self.passage_embedder = embedders, passage_embedder
        self.pending = PendingLocks(kbs_root)
        self.stage_chunks = STAGE_CHUNKS  # a file of more chunks is committed in batches (staged.py)

    def clean_interrupted(self) -> list[tuple[str, str]]:
        """Remove the ``pending`` files whose ingestion was interrupted (a crash, a kill: see
        ``pending.py``) and their stored copies; files being added elsewhere are left alone.
        Returns (KB name, file name) of each removed."""
        out: list[tuple[str, str]] = []
        for kb in self.catalog.list_kbs():
            pending = self.catalog.list_files(kb.id, "pending")
            for litter in self.pending.stale(kb.id, {f.id for f in pending}):
                litter.unlink(missing_ok=True)
            gone = [f for f in pending if self.pending.interrupted(kb.id, f.id, f.created_at)]
            gone = [f for f in gone if self.catalog.get_file(f.id).status == "pending"]  # not finished meanwhile
            if not gone:
                continue

            def remove(ids: list[str] = [f.id for f in gone]) -> tuple[Any, list[list[str]], np.ndarray, Any, int]:
                removed, revision = self.catalog.remove_files(kb.id, ids)
                return [], [], _no_vectors(kb), removed, revision

            pictures = self.catalog.picture_ids(kb.id, [f.id for f in gone])  # of batches committed before
            self._change(kb, remove)
            self._drop_pictures(kb, pictures)
            for f in gone:
                self.stored_path(kb, f.id).unlink(missing_ok=True)
                self.stored_path(kb, f.id).with_name(f.id + ".part").unlink(missing_ok=True)
                self.pending.forget(kb.id, f.id)
                out.append((kb.name, f.name))
        if out:
            self.indexes.flush()
        return out

    def stored_dir(self, kb: KnowledgeBase) -> Path:
        """The folder of the KB's stored original files, one per file record, named by its id."""
        return self.kbs_root / kb.id / "files"

    def stored_path(self, kb: KnowledgeBase, file_id: str) -> Path:
        return self.stored_dir(kb) / file_id

    def _change(self, kb: KnowledgeBase, change: Callable[[], tuple[Any, list[list[str]], np.ndarray, Any, int]]) -> None:
        """Run ``change`` (a catalog write returning the chunk ids added, their tokens and vectors, the
        chunk ids removed and the KB's new revision) and apply it to the KB's indexes under their lock,
        so a search waits for both instead of seeing the database ahead of the index."""
        indexes = self.indexes.get(kb)  # current before the database changes
        with indexes.lock:
            added, tokens, vectors, removed, revision = change()
            indexes.apply(np.asarray(added, dtype=np.int64), tokens, vectors, list(removed), revision)

    def add(
        self, kb: KnowledgeBase, sources: list[Source], force: bool = False,
        progress: IngestProgress | None = None, cancelled: Callable[[], bool] | None = None,
    ) -> IngestReport:
        progress = progress or _Silent()
        report = IngestReport()
        progress.files_found(len(sources))
        clashes = name_clashes(sources)
        for src, why in clashes.values():  # never one file silently replacing another of the same batch
            report.failed.append((src.name, why))
            progress.file_finished(src.name, "failed", why)
        sources = [src for i, src in enumerate(sources) if i not in clashes]
        # the next file is read, split and tokenised on another core while this one embeds
        ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zhiku-ingest-prepare")
        futures: dict[int, Future[_Prepared]] = {}

        def prepare(i: int) -> None:
            if i < len(sources) and i not in futures:
                futures[i] = ahead.submit(self._prepare, kb, sources[i], force, cancelled)

        try:
            for i, src in enumerate(sources):
                if cancelled and cancelled():
                    raise Cancelled("ingestion cancelled", report=report)
                prepare(i)
                prepared = futures.pop(i).result()
                prepare(i + 1)
                try:
                    self._one(kb, src, force, progress, report, cancelled, prepared)
                except Cancelled:
                    raise
                except ZhikuError as exc:
                    report.failed.append((src.name, exc.message))
                    progress.file_finished(src.name, "failed", exc.message)
                except Exception as exc:  # a loader bug must not abort the batch either
                    log.exception("unexpected error ingesting %s", src.name)
                    msg = f"{type(exc).__name__}: {exc}"
                    report.failed.append((src.name, msg))
                    progress.file_finished(src.name, "failed", msg)
        finally:
            ahead.shutdown(wait=True, cancel_futures=True)
            for left in futures.values():  # read ahead, never reached (a cancel): their pictures unpinned
                if left.done() and not left.cancelled() and left.exception() is None:
                    self._release(kb, left.result(), failed=True)
            self.indexes.flush()
        return report

    def _prepare(self, kb: KnowledgeBase, src: Source, force: bool,
                 cancelled: Callable[[], bool] | None = None) -> _Prepared:
        out = _Prepared()
        try:
            out.size = src.path.stat().st_size
            limit = self.settings.max_file_mb * 1024 * 1024
            if out.size > limit:
                raise InvalidInput(
                    f"file is {out.size / 2**20:.1f} MB, over the {self.settings.max_file_mb} MB limit")
            out.sha = sha256_file(src.path)
        except BaseException as exc:  # noqa: BLE001 - reported in the file's turn, like before
            out.error = exc
            return out
        if force or self._skip_reason(kb, src.name, out.sha) is None:
            try:
                out.parsed = self._parse(kb, src.path, src.name, cancelled)
            except BaseException as exc:  # noqa: BLE001 - a loader error fails this file in its turn
                out.parsed = (exc, [], [])
        return out

    def _parse(self, kb: KnowledgeBase, path: Path, name: str,
               cancelled: Callable[[], bool] | None = None) -> tuple[Any, list[Any], list[list[str]] | None]:
        """Load, split and tokenise a file, within ``ingest.max_unpacked_mb`` and stopping (``Cancelled``)
        at the next checkpoint of the loader or the splitter once ``cancelled()``. A file of more than
        ``stage_chunks`` chunks is tokenised batch by batch as it is written (tokens None, ``staged.py``)."""
        from zhiku.ingest.loaders import LoadLimits, load_file
        from zhiku.ingest.loaders.limits import breathe, checkpoint, loading
        from zhiku.text.normalize import lexical_tokens
        from zhiku.ingest.split import split_blocks

        limits = LoadLimits(self.settings.max_unpacked_mb * 2**20)
        with loading(limits, cancelled):
            doc = load_file(path, filename=name)
            from zhiku.ingest.pictures import images_dir, keep_pictures

            keep_pictures(doc, images_dir(self.kbs_root, kb.id), self.settings, self.captioner)  # stored, captioned
            drafts = split_blocks(doc.blocks, kb.chunk_size, kb.chunk_overlap,
                                  title_enhance=self.settings.title_enhance)
            doc.blocks = []  # the chunks hold the text now; only the document's pages are used later
            if len(drafts) > self.stage_chunks:
                return doc, drafts, None
            tokens = []
            for i, d in enumerate(drafts):
                if i % 1000 == 0:
                    checkpoint()
                breathe()  # the API's threads get the interpreter at least every millisecond
                # one copy of each distinct word for the whole file: a 200 MB text has ~400k chunks
                tokens.append([sys.intern(t) for t in lexical_tokens(d.text)])
        return doc, drafts, tokens

    def _skip_reason(self, kb: KnowledgeBase, name: str, sha: str) -> str | None:
        """Why a file with this name and content need not be ingested again, if it need not."""
        catalog = self.catalog
        if any(f.sha256 == sha and f.status == "indexed" for f in catalog.files_named(kb.id, name)):
            return "unchanged"
        dup = catalog.indexed_with_sha(kb.id, sha)
        return None if dup is None else f"same content as {dup.name}"

    def _one(
        self, kb: KnowledgeBase, src: Source, force: bool, progress: IngestProgress,
        report: IngestReport, cancelled: Callable[[], bool] | None, prepared: _Prepared | None = None,
    ) -> None:
        prepared = prepared or self._prepare(kb, src, force, cancelled)
        done = False
        try:
            self._add_one(kb, src, force, progress, report, cancelled, prepared)
            done = True
        finally:
            self._release(kb, prepared, failed=not done)

    def _release(self, kb: KnowledgeBase, prepared: _Prepared, failed: bool) -> None:
        """The file is committed, skipped or failed: its pictures are no longer pinned, and a failed
        file's go unless another file shows them (``pictures.py``)."""
        from zhiku.ingest.pictures import picture_ids, unpin

        doc = prepared.parsed[0] if prepared.parsed else None
        unpin(doc)
        if failed:
            self._drop_pictures(kb, picture_ids(doc))

    def _drop_pictures(self, kb: KnowledgeBase, candidates: set[str]) -> None:
        """The pictures among ``candidates`` that no chunk of the KB shows any more leave the disk."""
        if not candidates:
            return
        from zhiku.ingest.pictures import drop_pictures, images_dir

        try:
            drop_pictures(images_dir(self.kbs_root, kb.id), candidates, lambda: self.catalog.picture_ids(kb.id))
        except Exception:  # noqa: BLE001 - the change is made; `zhiku kb check --repair` finds what is left
            log.warning("%s: pictures no chunk shows were not removed", kb.name, exc_info=True)

    def _add_one(self, kb: KnowledgeBase, src: Source, force: bool, progress: IngestProgress,
                 report: IngestReport, cancelled: Callable[[], bool] | None, prepared: _Prepared) -> None:
        catalog = self.catalog
        if prepared.error is not None:
            raise prepared.error
        size, sha = prepared.size, prepared.sha
        versions = catalog.files_named(kb.id, src.name)
        if not force:
            why = self._skip_reason(kb, src.name, sha)  # again: an earlier file of this batch may match
            if why is not None:
                report.skipped.append((src.name, why))
                progress.file_finished(src.name, "skipped", why)
                return
        # a pending record of this content is resumed only when its ingestion was interrupted, and only by
        # the upload that took its lock (pending.claim): one that another upload is adding right now is
        # left to it, or both would write the same record and stored copy at once
        record, claimed = self.pending.claim_resumable(kb.id, versions, sha, catalog.get_file)
        if record is None:  # a new record, locked before it exists: a kill in between leaves no orphan record
            file_id, claimed = self.pending.reserve(kb.id)
            try:
                record = catalog.add_pending_file(kb.id, src.name, sha, size, src.doc_key, file_id=file_id)
            except BaseException:
                self.pending.release(kb.id, file_id, claimed)
                raise
        # versions pending elsewhere are uploads under way: they replace this one if they commit later
        replaces = [f.id for f in versions if f.id != record.id and f.status != "pending"]
        had_indexed = any(f.status == "indexed" for f in versions if f.id != record.id)
        stored = self.stored_path(kb, record.id)
        seen = {f.id for f in versions}  # versions of the name, filled again right before the commit
        old_pictures = catalog.picture_ids(kb.id, [f.id for f in versions if f.id != record.id])
        with self.pending.holding(kb.id, record.id, claimed):  # released however this process ends
            try:
                self._store_copy(src.path, stored)
                if prepared.parsed is None:  # it was to be skipped a moment ago: read now (pictures pinned)
                    prepared.parsed = self._parse(kb, stored, src.name, cancelled)
                n_chunks = self._index(kb, record, stored, src.name, replaces, progress, report, cancelled,
                                       prepared.parsed, seen)
            except Cancelled:
                raise
            except ZhikuError as exc:
                self._forget(kb, catalog.fail_file(record.id, exc.message))
                raise
            except Exception as exc:
                self._forget(kb, catalog.fail_file(record.id, f"{type(exc).__name__}: {exc}"))
                raise
        left = {f.id for f in catalog.files_named(kb.id, src.name)}
        for old in (seen | set(replaces)) - left - {record.id}:  # replaced here, decided at commit time
            self.stored_path(kb, old).unlink(missing_ok=True)
        self._drop_pictures(kb, old_pictures)  # the replaced versions' that the new one does not show
        (report.replaced if had_indexed else report.added).append(src.name)
        report.chunks += n_chunks
        from zhiku.ingest.loaders.ocr import unreadable_note
        from zhiku.ingest.pictures import failures_note

        progress.file_finished(src.name, "replaced" if had_indexed else "added",
                               f"{n_chunks} chunk" + ("" if n_chunks == 1 else "s")
                               + failures_note(prepared.parsed[0] if prepared.parsed else None)
                               + unreadable_note(prepared.parsed[0] if prepared.parsed else None))

    def _forget(self, kb: KnowledgeBase, file_ids: list[str]) -> None:
        """Remove the stored copies of file records that are gone."""
        for fid in file_ids:
            self.stored_path(kb, fid).unlink(missing_ok=True)

    @staticmethod
    def _store_copy(src: Path, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)

    def _index(
        self, kb: KnowledgeBase, record: FileRecord, stored: Path, name: str, replaces: list[str],
        progress: IngestProgress, report: IngestReport, cancelled: Callable[[], bool] | None,
        parsed: tuple[Any, list[Any], list[list[str]] | None] | None = None, seen: set[str] | None = None,
    ) -> int:
        doc, drafts, tokens = parsed or self._parse(kb, stored, name, cancelled)
        if isinstance(doc, BaseException):
            raise doc
        if not drafts:
            from zhiku.errors import LoadError

            raise LoadError("no text found in the file")
        progress.file_started(name, len(drafts))
        if tokens is None or len(drafts) > self.stage_chunks:  # a large file: written in batches
            return index_in_batches(self, kb, record, name, replaces, doc, drafts, tokens, progress, report,
                                    cancelled, seen, self.stage_chunks)
        texts = [d.text for d in drafts]
        embedder = self.passage_embedder(kb.embedder)
        vectors, fresh = embedder.embed_passages(
            texts, batch_size=self.embedders.config(kb.embedder).batch_size,
            progress=progress.chunks_embedded, cancelled=cancelled,
        )
        report.embedded += fresh
        rows = [chunk_row(i, d, tok, vectors[i]) for i, (d, tok) in enumerate(zip(drafts, tokens))]
        if cancelled and cancelled():
            raise Cancelled("ingestion cancelled")

        def commit() -> tuple[Any, list[list[str]], np.ndarray, Any, int]:
            if seen is not None:
                seen.update(f.id for f in self.catalog.files_named(kb.id, name))
            added, removed, revision = self.catalog.commit_file(kb.id, record.id, rows, doc.pages, replaces)
            return added, tokens, vectors, removed, revision

        self._change(kb, commit)
        return len(drafts)

    def remove(self, kb: KnowledgeBase, names: list[str]) -> list[str]:
        """Remove files by name (or id); returns the names removed."""
        catalog = self.catalog
        targets: list[FileRecord] = []
        for n in names:
            found = catalog.files_named(kb.id, n) or [f for f in catalog.list_files(kb.id) if f.id == n]
            if not found:
                raise NotFound(f"no file '{n}' in knowledge base '{kb.name}'", file=n)
            targets.extend(found)

        def remove() -> tuple[Any, list[list[str]], np.ndarray, Any, int]:
            removed, revision = catalog.remove_files(kb.id, [f.id for f in targets])
            return [], [], _no_vectors(kb), removed, revision

        pictures = catalog.picture_ids(kb.id, [f.id for f in targets])
        self._change(kb, remove)
        self.indexes.flush()
        for f in targets:
            self.stored_path(kb, f.id).unlink(missing_ok=True)
        self._drop_pictures(kb, pictures)
        return sorted({f.name for f in targets})

    def unindex(self, kb: KnowledgeBase, name: str, reason: str) -> bool:
        """Take a file out of search by name but keep its record (``failed``, with ``reason``) and its
        stored copy, so that a re-ingest brings it back. False when it was not indexed anyway."""
        found = self.catalog.files_named(kb.id, name)
        if not found:
            raise NotFound(f"no file '{name}' in knowledge base '{kb.name}'", file=name)
        indexed = [f for f in found if f.status == "indexed"]
        pictures = self.catalog.picture_ids(kb.id, [f.id for f in indexed])  # a re-ingest extracts them again
        stale: list[str] = []  # earlier failed versions of the name, superseded
        for f in indexed:
            def unindex(file_id: str = f.id) -> tuple[Any, list[list[str]], np.ndarray, Any, int]:
                removed, revision, gone = self.catalog.unindex_file(kb.id, file_id, reason)
                stale.extend(gone)
                return [], [], _no_vectors(kb), removed, revision

            self._change(kb, unindex)
        self.indexes.flush()
        self._forget(kb, stale)
        self._drop_pictures(kb, pictures)
        return bool(indexed)

    def edit_chunk(self, kb: KnowledgeBase, chunk_id: int, text: str) -> None:
        """Replace a chunk's text: re-embedded, re-tokenised, searchable as edited at once."""
        from zhiku.text.normalize import lexical_tokens

        if not text or not text.strip():
            raise InvalidInput("a chunk's text cannot be empty")
        chunk = self.catalog.get_chunk(kb.id, chunk_id)
        vectors, _ = self.passage_embedder(kb.embedder).embed_passages([text])
        tokens = lexical_tokens(text)

        def edit() -> tuple[Any, list[list[str]], np.ndarray, Any, int]:
            revision = self.catalog.update_chunk(
                kb.id, chunk_id, text, tokens, vectors[0].tobytes(), {**chunk.meta, "edited": True})
            return [chunk_id], [tokens], vectors, [chunk_id], revision

        self._change(kb, edit)
        self.indexes.flush()

    def replace_chunks(self, kb: KnowledgeBase, name: str, texts: list[str]) -> int:
        """The indexed file ``name`` gets ``texts`` as its chunks, one for one (``staged.replace_chunks``)."""
        return replace_chunks(self, kb, name, texts)

    def delete_chunk(self, kb: KnowledgeBase, chunk_id: int) -> None:
        def delete() -> tuple[Any, list[list[str]], np.ndarray, Any, int]:
            return [], [], _no_vectors(kb), [chunk_id], self.catalog.delete_chunk(kb.id, chunk_id)

        pictures = self.catalog.picture_ids(kb.id, chunk_ids=[chunk_id])
        self._change(kb, delete)
        self.indexes.flush()
        self._drop_pictures(kb, pictures)


def _no_vectors(kb: KnowledgeBase) -> np.ndarray:
    return np.zeros((0, kb.dimensions), np.float32)
