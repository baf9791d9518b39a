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
            if embedders.config(kb.embedder).type != "openai":  # a remote model may be down right now
                retriever.search([kb], "warm up 预热", 1, "hybrid", rerank="none")  # the dense scan, its thread
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


def warm_up_http(url: str, kbs: Sequence["KnowledgeBase"], wait_s: float = 30.0) -> dict[str, float]:
    """One search over the server's own HTTP (``url``), so the first real one does not pay for the
    first use of the route, its worker thread and the scan thread (a first search cost 2-2.4x a later
    one over HTTP with everything loaded). With auth on it gets a 401, which still warms the server
    up to the route. Returns seconds spent; never raises (start-up goes on regardless)."""
    import httpx

    if not kbs:
        return {}
    t0 = time.perf_counter()
    body = {"kbs": [kbs[0].name], "query": "预热 warm up the route", "top_k": 1, "mode": "lexical"}
    with httpx.Client(base_url=url, timeout=wait_s, trust_env=False) as client:
        while time.perf_counter() - t0 < wait_s:
            try:
                for _ in range(2):  # the second runs on a warm connection, as a client's later ones do
                    client.post("/api/search", json=body)
                break
            except httpx.TransportError:  # not listening yet
                time.sleep(0.05)
            except Exception as exc:  # noqa: BLE001 - only a warm-up
                log.warning("could not warm the search route: %s", exc)
                break
    return {"http": time.perf_counter() - t0}
