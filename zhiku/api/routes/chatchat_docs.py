"""Chatchat's custom ``docs`` on ``upload_docs`` / ``update_docs`` (the KB page's chunk editor,
"保存更改"): ``{"file name": [{"page_content": "...", "metadata": {...}}, ...]}``. As in Chatchat, the
given chunks replace the file's chunks; each is embedded and indexed as an edited chunk is
(``Zhiku.edit_chunk``: re-embedded, re-tokenised, searchable at once, marked ``edited``).

zhiku cannot add a chunk to a file: given more chunks than the file has, the extra ones are joined
(blank line between) into the file's last chunk; given fewer, the file's other chunks are deleted.
"""

from __future__ import annotations

import json
from typing import Any

from zhiku.app import Zhiku
from zhiku.errors import InvalidInput
from zhiku.schema import limits


def parse_docs(docs: str | dict[str, Any]) -> dict[str, list[str]]:
    """The texts of the custom docs by file name; a malformed value is a clear 400."""
    if isinstance(docs, str):
        if not docs.strip():
            return {}
        try:
            docs = json.loads(docs)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"docs must be a JSON object of file name → list of documents ({exc.msg})",
                               field="docs") from None
    if not isinstance(docs, dict):
        raise InvalidInput("docs must be a JSON object of file name → list of documents", field="docs")
    out: dict[str, list[str]] = {}
    for name, items in docs.items():
        if not isinstance(items, list) or not items:
            raise InvalidInput(f"docs['{name}'] must be a non-empty list of documents ({{\"page_content\": ...}})",
                               field="docs", file=name)
        texts = []
        for item in items:
            text = item.get("page_content") if isinstance(item, dict) else None
            if not isinstance(text, str) or not text.strip():
                raise InvalidInput(f"docs['{name}']: every document needs a non-empty page_content",
                                   field="docs", file=name)
            if len(text) > limits.CHUNK_TEXT_MAX_CHARS:
                raise InvalidInput(f"docs['{name}']: a page_content is at most {limits.CHUNK_TEXT_MAX_CHARS:,} "
                                   "characters", field="docs", file=name)
            texts.append(text)
        out[str(name)] = texts
    return out


def replace_chunks(zhiku: Zhiku, kb: str, name: str, texts: list[str]) -> None:
    """The indexed file ``name`` of ``kb`` gets ``texts`` as its chunks (see the module's docstring)."""
    indexed = [f for f in zhiku.list_files(kb) if f.name == name and f.status == "indexed"]
    if not indexed:
        raise InvalidInput(f"custom docs for '{name}': the knowledge base holds no indexed file of that name "
                           "(upload it, or index it again with update_docs, first)", file=name)
    _, chunks = zhiku.file_chunks(kb, indexed[0].id)
    if not chunks:
        raise InvalidInput(f"custom docs for '{name}': the file has no chunk to replace", file=name)
    if len(texts) > len(chunks):  # the extra chunks join the last one
        texts = [*texts[:len(chunks) - 1], "\n\n".join(texts[len(chunks) - 1:])]
        if len(texts[-1]) > limits.CHUNK_TEXT_MAX_CHARS:
            raise InvalidInput(f"custom docs for '{name}': more documents than the file has chunks, and together "
                               f"the extra ones exceed {limits.CHUNK_TEXT_MAX_CHARS:,} characters", file=name)
    for chunk, text in zip(chunks, texts):
        if chunk.text != text:
            zhiku.edit_chunk(kb, chunk.id, text)
    for chunk in chunks[len(texts):]:
        zhiku.delete_chunk(kb, chunk.id)
