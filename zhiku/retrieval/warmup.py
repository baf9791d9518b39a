"""Load at server start what the first question would otherwise pay for: every knowledge base's
indexes (FAISS + BM25, rebuilt if stale), the query embedder of each KB, and jieba's dictionary."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zhiku.app import Zhiku

log = logging.getLogger(__name__)


def warm_up(app: Zhiku) -> dict[str, float]:
    """Returns seconds spent per part. A KB whose indexes fail to load is logged and left for the
    first question to retry: one damaged KB must not keep the server from starting."""
    from zhiku.text.normalize import lexical_tokens

    spent: dict[str, float] = {}
    kbs = app.list_kbs()
    if not kbs:
        return spent  # nothing to search yet: start at once
    t0 = time.perf_counter()
    lexical_tokens("预热 warm up")
    spent["tokenizer"] = time.perf_counter() - t0
    embedders: set[str] = set()
    t0 = time.perf_counter()
    for kb in kbs:
        try:
            app.indexes.get(kb)
            app.retriever.search([kb], "warm up 预热", 1, "lexical", rerank="none")  # the catalog's statements
        except Exception as exc:  # noqa: BLE001 - logged; the first search retries and reports it
            log.warning("could not load the indexes of %s at start: %s", kb.name, exc)
        embedders.add(kb.embedder)
    spent["indexes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for name in sorted(embedders):
        if app.settings.embedder(name).type == "openai":
            continue  # a remote model: nothing to load here, and it may be down right now
        try:
            app.embedder(name).embed_query("预热 warm up")
        except Exception as exc:  # noqa: BLE001 - logged; the first question reports it
            log.warning("could not load embedder %s at start: %s", name, exc)
    spent["embedders"] = time.perf_counter() - t0
    log.info("warmed up: %s", ", ".join(f"{k} {v:.2f} s" for k, v in spent.items()))
    return spent
