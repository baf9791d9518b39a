"""Load at server start what the first question would otherwise pay for: every knowledge base's
indexes (FAISS + BM25, rebuilt if stale), the query embedder of each KB, and jieba's dictionary."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from zhiku.embed.provider import Embedders
    from zhiku.retrieval.search import Retriever
    from zhiku.schema import KnowledgeBase

log = logging.getLogger(__name__)


def warm_up(kbs: Sequence["KnowledgeBase"], retriever: "Retriever", embedders: "Embedders") -> dict[str, float]:
    """Returns seconds spent per part. A KB whose indexes fail to load is logged and left for the
    first question to retry: one damaged KB must not keep the server from starting."""
    from zhiku.text.normalize import lexical_tokens

    spent: dict[str, float] = {}
    if not kbs:
        return spent  # nothing to search yet: start at once
    t0 = time.perf_counter()
    lexical_tokens("预热 warm up")
    spent["tokenizer"] = time.perf_counter() - t0
    used: set[str] = set()
    t0 = time.perf_counter()
    for kb in kbs:
        try:
            retriever.indexes.get(kb)
            retriever.search([kb], "warm up 预热", 1, "lexical", rerank="none")  # the catalog's statements
        except Exception as exc:  # noqa: BLE001 - logged; the first search retries and reports it
            log.warning("could not load the indexes of %s at start: %s", kb.name, exc)
        used.add(kb.embedder)
    spent["indexes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for name in sorted(used):
        if embedders.config(name).type == "openai":
            continue  # a remote model: nothing to load here, and it may be down right now
        try:
            embedders.get(name).embed_query("预热 warm up")
        except Exception as exc:  # noqa: BLE001 - logged; the first question reports it
            log.warning("could not load embedder %s at start: %s", name, exc)
    spent["embedders"] = time.perf_counter() - t0
    log.info("warmed up: %s", ", ".join(f"{k} {v:.2f} s" for k, v in spent.items()))
    return spent
