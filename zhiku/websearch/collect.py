"""One question's web evidence: search, fetch the best pages at once (bounded), split them.

A page that is refused or fails costs only itself: its engine snippet stands in for it
and the reason is kept, so the answer can say plainly what went wrong.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from zhiku.config import WebSearchSettings
from zhiku.errors import ZhikuError
from zhiku.websearch.base import SearchEngine, WebResult
from zhiku.websearch.extract import Passage, page_passages, snippet_passage
from zhiku.websearch.fetch import Page, PageFetcher

log = logging.getLogger(__name__)


@dataclass
class Evidence:
    results: list[WebResult]
    passages: list[Passage] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)  # result URLs whose pages were read
    failures: dict[str, str] = field(default_factory=dict)  # result URL → why its page was not read

    @property
    def attempted(self) -> int:
        return len(self.fetched) + len(self.failures)


def collect(ws: WebSearchSettings, engine: SearchEngine, fetcher: PageFetcher, question: str, lang: str | None,
            chunking: tuple[int, int]) -> Evidence:
    """``chunking``: the size and overlap pages are split with (the ingest settings')."""
    deadline = time.monotonic() + ws.total_timeout_s
    results = engine.search(question, ws.results, lang)
    evidence = Evidence(results)
    to_fetch = results[: ws.fetch_pages]
    pages: dict[int, Page] = {}
    if to_fetch:
        pool = ThreadPoolExecutor(max_workers=min(ws.fetch_workers, len(to_fetch)), thread_name_prefix="zhiku-fetch")
        try:
            futures = {pool.submit(fetcher.fetch, r.url, deadline): i for i, r in enumerate(to_fetch)}
            done, pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()) + 0.5)
            for fut in pending:
                fut.cancel()
                evidence.failures[to_fetch[futures[fut]].url] = "not fetched within the time limit"
            for fut in done:
                i = futures[fut]
                try:
                    pages[i] = fut.result()
                except ZhikuError as exc:
                    evidence.failures[to_fetch[i].url] = exc.message
                    log.info("page not read: %s", exc.message)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    size, overlap = chunking
    for rank, result in enumerate(results):
        page = pages.get(rank)
        passages = page_passages(page, result, rank, size, overlap) if page is not None else []
        if page is not None:
            evidence.fetched.append(result.url)
        if not passages:
            snippet = snippet_passage(result, rank)
            passages = [snippet] if snippet else []
        evidence.passages.extend(passages)
    return evidence
