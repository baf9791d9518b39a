"""A large file's chunks are embedded and written in batches while the file is ``pending``, so its
chunks, tokens and vectors are never all in memory at once (issue 20: a 200 MB text held ~400k of
each until its single commit, about 3 GB). The file stays unsearchable until one final transaction
flips it to ``indexed`` and retires its older versions, exactly as a small file's single commit does;
its chunks then reach the in-memory indexes batch by batch under the same lock hold.

A failure or a cancel removes the batches written so far; a crash leaves them under a ``pending``
file, which nothing searches, rebuilds from or counts, and which the start-up clean-up
(``Ingestor.clean_interrupted``) and ``kb check --repair`` remove with its chunks. Resuming the same
file starts its batches again.

Also: Chatchat's custom ``docs`` replacing a file's chunks one for one (``replace_chunks``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from zhiku.errors import Cancelled, InvalidInput, NotFound
from zhiku.schema import FileRecord, KnowledgeBase
from zhiku.store.staged_chunks import commit_staged, drop_staged, replace_file_chunks, stage_chunks, staged_rows

if TYPE_CHECKING:
    from zhiku.ingest.pipeline import Ingestor
    from zhiku.ingest.sources import IngestProgress, IngestReport

# a file of more chunks than this is written in batches of this many (about 0.5-1 MB of text each)
STAGE_CHUNKS = 1000


def chunk_row(seq: int, draft: Any, tokens: Sequence[str], vector: np.ndarray) -> dict[str, Any]:
    """A chunk as the catalog inserts it, from the splitter's draft."""
    return {
        "seq": seq, "text": draft.text, "kind": draft.kind, "page": draft.page, "page_end": draft.page_end,
        "section": list(draft.section), "start": draft.start, "end": draft.end, "meta": draft.meta,
        "tokens": " ".join(tokens), "embedding": vector.tobytes(),
    }


def index_in_batches(
    ing: "Ingestor", kb: KnowledgeBase, record: FileRecord, name: str, replaces: list[str], doc: Any,
    drafts: list[Any], tokens: list[list[str]] | None, progress: "IngestProgress", report: "IngestReport",
    cancelled: Callable[[], bool] | None, seen: set[str] | None, step: int,
) -> int:
    """Embed and stage ``drafts`` ``step`` at a time (each batch's drafts are let go once written),
    then commit the file. ``tokens``: the drafts' lexical tokens, or None to make them batch by batch.
    Returns the file's chunk count."""
    catalog = ing.catalog
    embedder = ing.passage_embedder(kb.embedder)
    batch_size = ing.embedders.config(kb.embedder).batch_size
    drop_staged(catalog, record.id)  # the batches of an interrupted earlier run of this record
    try:
        for start in range(0, len(drafts), step):
            if cancelled and cancelled():
                raise Cancelled("ingestion cancelled")
            part = drafts[start:start + step]
            toks = (tokens[start:start + step] if tokens is not None
                    else [_tokens(d.text) for d in part])
            vectors, fresh = embedder.embed_passages([d.text for d in part], batch_size=batch_size,
                                                     progress=progress.chunks_embedded, cancelled=cancelled)
            report.embedded += fresh
            stage_chunks(catalog, kb.id, record.id,
                         [chunk_row(start + i, d, t, vectors[i]) for i, (d, t) in enumerate(zip(part, toks))])
            drafts[start:start + len(part)] = [None] * len(part)  # written: the text is the database's now
            if tokens is not None:
                tokens[start:start + len(part)] = [[] for _ in part]
        if cancelled and cancelled():
            raise Cancelled("ingestion cancelled")
    except BaseException:
        drop_staged(catalog, record.id)
        raise

    indexes = ing.indexes.get(kb)  # current before the database changes (as ``Ingestor._change``)
    with indexes.lock:
        if seen is not None:
            seen.update(f.id for f in catalog.files_named(kb.id, name))
        try:
            removed, revision, count = commit_staged(catalog, kb.id, record.id, doc.pages, replaces, step)
        except BaseException:
            drop_staged(catalog, record.id)  # the file fails (``Ingestor._one``): no chunks under it
            raise
        applied = False
        for ids, toks, vecs, _ in staged_rows(catalog, record.id, step):
            if not applied:
                indexes.apply(ids, toks, vecs, removed, revision)
                applied = True
            else:
                indexes.extend(ids, toks, vecs)
        if not applied:
            indexes.apply(np.zeros(0, np.int64), [], np.zeros((0, kb.dimensions), np.float32), removed, revision)
    return count


def _tokens(text: str) -> list[str]:
    """A chunk's lexical tokens, one copy of each distinct word for the whole file (a 200 MB text has
    ~400k chunks); the API's threads get the interpreter at least every millisecond meanwhile."""
    from zhiku.ingest.loaders.limits import breathe
    from zhiku.text.normalize import lexical_tokens

    breathe()
    return [sys.intern(t) for t in lexical_tokens(text)]


def replace_chunks(ing: "Ingestor", kb: KnowledgeBase, name: str, texts: list[str]) -> int:
    """The file ``name`` gets ``texts`` as its chunks, one for one, however many (Chatchat's custom
    ``docs``; a file kept out of search, ``failed``, is indexed with them, as Chatchat's ``update_doc``
    adds them): embedded and tokenised as an edited chunk is, the old chunks removed and the new
    ones added in one change of the database and the indexes. A chunk whose text is unchanged keeps
    its place and metadata; the others are marked ``edited`` and take the place (page, section) of the
    chunk they stand in for (the last one's beyond the old count). Returns the new chunk count."""
    from zhiku.text.normalize import lexical_tokens

    if not texts or any(not t or not t.strip() for t in texts):
        raise InvalidInput("every chunk needs some text")
    found = ing.catalog.files_named(kb.id, name)
    # the indexed version; else the newest failed one (kept out of search: it is indexed with these)
    record = next((f for f in found if f.status == "indexed"), None) or max(
        (f for f in found if f.status == "failed"), key=lambda f: f.updated_at, default=None)
    if record is None:
        raise NotFound(f"no file '{name}' in knowledge base '{kb.name}' (or it is still being added)", file=name)
    old = ing.catalog.file_chunks(record.id)
    vectors, _ = ing.passage_embedder(kb.embedder).embed_passages(
        texts, batch_size=ing.embedders.config(kb.embedder).batch_size)
    tokens = [lexical_tokens(t) for t in texts]
    rows = []
    for i, (text, tok) in enumerate(zip(texts, tokens)):
        like = old[min(i, len(old) - 1)] if old else None
        same = i < len(old) and old[i].text == text
        rows.append({
            "seq": i, "text": text, "kind": like.kind if like else "text",
            "page": like.page if like else None, "page_end": like.page_end if like else None,
            "section": list(like.section) if like else [],
            "start": like.start if same and like else None, "end": like.end if same and like else None,
            "meta": dict(like.meta) if same and like else {**(like.meta if like else {}), "edited": True},
            "tokens": " ".join(tok), "embedding": vectors[i].tobytes(),
        })

    def replace() -> tuple[Any, list[list[str]], np.ndarray, Any, int]:
        added, removed, revision = replace_file_chunks(ing.catalog, kb.id, record.id, rows)
        return added, tokens, vectors, removed, revision

    ing._change(kb, replace)
    ing.indexes.flush()
    return len(rows)
