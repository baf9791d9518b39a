"""Chatchat's custom ``docs`` on ``upload_docs`` / ``update_docs`` (the KB page's chunk editor,
"保存更改"): ``{"file name": [{"page_content": "...", "metadata": {...}}, ...]}``. As in Chatchat, the
given chunks replace the file's chunks one for one, however many there are (more or fewer than the
file had): each is embedded and indexed as an edited chunk is (re-embedded, re-tokenised, marked
``edited``), and the old chunks go and the new ones come in one change of the database and the
indexes (``Ingestor.replace_chunks``): searchable at once, the old text gone. A file kept out of the
vector store (``delete_docs`` with ``delete_content`` false) is indexed again with them, as in Chatchat.
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
    if not any(f.name == name and f.status in ("indexed", "failed") for f in zhiku.list_files(kb)):
        raise InvalidInput(f"custom docs for '{name}': the knowledge base holds no file of that name "
                           "(upload it first)", file=name)
    zhiku.ingestor.replace_chunks(zhiku.kb(kb), name, texts)
