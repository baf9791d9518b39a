"""SearXNG through its JSON API: ``GET /search?q=...&format=json&language=...``.

The instance must allow the json format (``search.formats: [html, json]`` in its
settings.yml); otherwise it answers 403 and the error says so.
"""

from __future__ import annotations

from typing import Any

from zhiku.websearch.base import EngineClient, SearchUnavailable, WebResult, check_query, clean, web_url

LANGUAGES = {"zh": "zh-CN", "en": "en"}


class SearXNG:
    name = "searxng"

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        self.client = EngineClient(self.name, base_url, timeout_s)

    def search(self, query: str, limit: int = 5, lang: str | None = None) -> list[WebResult]:
        query = check_query(query, limit)
        params = {"q": query, "format": "json", "pageno": 1, "language": LANGUAGES.get(lang or "", "all")}
        try:
            response = self.client.request("GET", "/search", params=params)
        except SearchUnavailable as exc:
            if exc.details.get("status") == 403:
                raise SearchUnavailable(
                    "the SearXNG instance refused the JSON API (403): add json to search.formats in its "
                    "settings.yml", engine=self.name, status=403) from None
            raise
        return parse(self.client.json(response), limit)


def parse(data: Any, limit: int) -> list[WebResult]:
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise SearchUnavailable("the SearXNG answer has no result list", engine="searxng")
    out: list[WebResult] = []
    seen: set[str] = set()
    for item in data["results"]:
        if not isinstance(item, dict):
            continue
        url = web_url(item.get("url"))
        if url is None or url in seen:
            continue
        seen.add(url)
        engines = item.get("engines") or [item.get("engine")]
        source = ",".join(str(e) for e in engines if e) or "searxng"
        out.append(WebResult(title=clean(item.get("title")) or url, url=url, snippet=clean(item.get("content")),
                             engine=f"searxng:{source}"))
        if len(out) >= limit:
            break
    return out
