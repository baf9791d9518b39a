"""web_search and read_url: the configured search engine, and reading one page through the SSRF guard.

Both use zhiku.websearch — the one fetcher, with its guard, size and time caps, and redirects checked
hop by hop — never a fetcher of their own. A page's text is cut to ``agent.read_url_chars`` for the
model; what it said is a source the answer may cite (with its URL).
"""

from __future__ import annotations

from typing import Any

from zhiku.agent.base import ToolContext, ToolError, ToolResult, ToolSpec
from zhiku.errors import ZhikuError
from zhiku.schema import Hit

MAX_RESULTS = 10


class WebSearch:
    spec = ToolSpec(
        name="web_search",
        description="Search the web. Gives each result's title, URL and snippet; read a result with read_url "
        "when the snippet is not enough.",
        parameters={"type": "object", "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS, "description": "results (default 5)"}},
            "required": ["query"], "additionalProperties": False},
    )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        from zhiku.text.normalize import detect_lang

        query = str(arguments.get("query") or "").strip()
        if not query:
            raise ToolError("the query is empty")
        limit = arguments.get("limit") or 5
        if not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
            raise ToolError(f"limit must be a whole number from 1 to {MAX_RESULTS}")
        try:
            results = context.services["web_engine"]().search(query, limit, detect_lang(query))
        except ZhikuError as exc:
            raise ToolError(f"the web search failed: {exc.message}") from None
        if not results:
            return ToolResult(text=f"no web results for '{query}'", summary="0 results")
        lines, hits = [], []
        for i, r in enumerate(results, 1):
            lines.append(f"[{i}] {r.title}\n{r.url}\n{r.snippet}")
            hits.append(Hit(kb="web", file=r.title or r.url, file_id=r.url, page=None, section=None, chunk_id=i,
                            score=max(0.0, 1.0 - (i - 1) / (2 * len(results))), text=r.snippet or r.title,
                            url=r.url, meta={"engine": r.engine, "result_rank": i, "from_snippet": True}))
        return ToolResult(text="\n\n".join(lines), sources=hits, summary=f"{len(results)} results",
                          data={"results": [r.model_dump() for r in results]})


class ReadUrl:
    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.spec = ToolSpec(
            name="read_url",
            description="Read a web page (http or https) and give its main text. Private and internal addresses "
            "are refused.",
            parameters={"type": "object", "properties": {"url": {"type": "string"}},
                        "required": ["url"], "additionalProperties": False},
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        from zhiku.websearch.extract import page_blocks

        url = str(arguments.get("url") or "").strip()
        if not url:
            raise ToolError("the URL is empty")
        try:
            page = context.services["fetcher"].fetch(url)
        except ZhikuError as exc:  # FetchRefused (the guard) or FetchFailed (size, time, status, type)
            raise ToolError(exc.message) from None
        blocks, title = page_blocks(page)
        text = "\n\n".join(b.text.strip() for b in blocks if b.text.strip())
        cut = len(text) > self.max_chars
        shown = text[: self.max_chars] + ("\n[… the page goes on]" if cut else "")
        if page.truncated:
            shown += "\n[the page was larger than the size limit; only its beginning was read]"
        name = title or page.final_url
        hit = Hit(kb="web", file=name, file_id=page.final_url, page=None, section=None, chunk_id=0, score=1.0,
                  text=text[: self.max_chars], url=page.final_url, meta={"read_url": True})
        return ToolResult(text=f"{name}\n{page.final_url}\n\n{shown}" if text else f"{page.final_url}: the page has no text",
                          sources=[hit] if text else [], summary=f"{len(text)} characters",
                          data={"url": page.final_url, "title": title, "chars": len(text), "cut": cut or page.truncated})


def web_search(context: ToolContext) -> WebSearch | None:
    """None when web search is off (``websearch.engine: none``) or the services lack an engine."""
    settings = context.services.get("settings")
    if "web_engine" not in context.services or (settings is not None and settings.websearch.engine == "none"):
        return None
    return WebSearch()


def read_url(context: ToolContext) -> ReadUrl | None:
    """None while web search is off (``websearch.engine: none``): an offline install reaches no web page,
    and a document cannot talk the model into sending its text to a URL."""
    settings = context.services.get("settings")
    if "fetcher" not in context.services or (settings is not None and settings.websearch.engine == "none"):
        return None
    return ReadUrl(settings.agent.read_url_chars if settings is not None else 8000)
