"""Fetched pages → passages: the page's main text (the project's HTML loader drops
scripts, styles, navigation, asides and page headers/footers) split by the project's
splitter, so a web passage looks like a knowledge-base chunk."""

from __future__ import annotations

import re
from dataclasses import dataclass

from zhiku.ingest.loaders.base import Block
from zhiku.ingest.split import split_blocks
from zhiku.websearch.base import WebResult
from zhiku.websearch.fetch import Page

MIN_PASSAGE = 40  # shorter leftovers (menus, bylines) are dropped when the page has real text
_PARAS = re.compile(r"\n\s*\n")


@dataclass
class Passage:
    url: str
    title: str
    text: str
    engine: str
    rank: int  # the result's position in the engine's answer, 0 = first
    section: str | None = None
    from_snippet: bool = False


def page_blocks(page: Page) -> tuple[list[Block], str | None]:
    if page.is_html:
        from zhiku.ingest.loaders.html import html_to_blocks

        return html_to_blocks(page.text)
    from zhiku.ingest.loaders.encoding import clean_text

    paras = [p.strip() for p in _PARAS.split(clean_text(page.text)) if p.strip()]
    return [Block(p) for p in paras], None


def page_passages(page: Page, result: WebResult, rank: int, chunk_size: int = 500,
                  chunk_overlap: int = 50) -> list[Passage]:
    blocks, title = page_blocks(page)
    blocks = [b for b in blocks if b.text.strip()]
    if not blocks:
        return []
    drafts = split_blocks(blocks, chunk_size, min(chunk_overlap, chunk_size - 1))
    name = result.title or title or page.final_url
    out = [Passage(url=result.url, title=name, text=d.text.strip(), engine=result.engine, rank=rank,
                   section=" > ".join(d.section) or None) for d in drafts if d.text.strip()]
    long = [p for p in out if len(p.text) >= MIN_PASSAGE]
    seen: set[str] = set()
    unique = []
    for p in long or out:
        if p.text not in seen:
            seen.add(p.text)
            unique.append(p)
    return unique


def snippet_passage(result: WebResult, rank: int) -> Passage | None:
    if not result.snippet.strip():
        return None
    return Passage(url=result.url, title=result.title, text=result.snippet.strip(), engine=result.engine,
                   rank=rank, from_snippet=True)
