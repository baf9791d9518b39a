"""What a search reads of its hits from the catalog: one query for the chunks it returns, with the
file each came from and the chunk's stored lexical tokens, and without the embeddings.

``Catalog.chunks_by_id`` reads every column of the chunk (the 1.5 KB embedding too) and makes a
``Chunk`` model of each row; a KB chat reads its hits once per question, on the thread that holds
the interpreter, so this read takes only what a hit shows and the tokens the refusal verdict reads
(``zhiku.llm.relevance.Passage``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

from sqlalchemy import bindparam, select

from zhiku.store.db import chunks, files

if TYPE_CHECKING:
    from zhiku.store.catalog import Catalog


class HitRow(NamedTuple):
    """A chunk as a search hit shows it, and its stored lexical tokens (space-joined)."""

    file_id: str
    file_name: str
    doc_key: str | None
    text: str
    page: int | None
    page_end: int | None
    section: list[str]
    start: int | None
    end: int | None
    meta: dict[str, Any]
    tokens: str


_COLUMNS = (chunks.c.id, chunks.c.file_id, files.c.name, files.c.doc_key, chunks.c.text, chunks.c.page,
            chunks.c.page_end, chunks.c.section, chunks.c.start, chunks.c.end, chunks.c.meta, chunks.c.tokens)


# built once: building the statement was a quarter of this read's interpreter time
_QUERY = (select(*_COLUMNS).join(files, files.c.id == chunks.c.file_id)
          .where(chunks.c.id.in_(bindparam("ids", expanding=True)), files.c.status == "indexed"))


def hit_rows(catalog: "Catalog", ids: Sequence[int]) -> dict[int, HitRow]:
    """The indexed chunks among ``ids`` (a chunk of a file being replaced or removed is left out,
    as ``Catalog.chunks_by_id`` leaves it)."""
    if not ids:
        return {}
    with catalog.engine.connect() as conn:
        return {
            cid: HitRow(file_id, name, doc_key, text, page, page_end, list(section or []), start, end,
                        dict(meta or {}), tokens or "")
            for cid, file_id, name, doc_key, text, page, page_end, section, start, end, meta, tokens
            in conn.execute(_QUERY, {"ids": list(ids)})
        }
