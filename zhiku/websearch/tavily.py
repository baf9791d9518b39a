"""Tavily: ``POST /search`` with a JSON body; the key goes as a Bearer token (and, for older
deployments, as ``api_key`` in the body)."""

from __future__ import annotations

from typing import Any

from zhiku.errors import ConfigError
from zhiku.websearch.base import EngineClient, SearchUnavailable, WebResult, check_query, clean, web_url

DEFAULT_URL = "https://api.tavily.com"


class Tavily:
    name = "tavily"

    def __init__(self, api_key: str | None, base_url: str | None = None, timeout_s: float = 10.0) -> None:
        if not api_key:
            raise ConfigError("the tavily search engine needs an API key: set websearch.api_key or api_key_env")
        self.api_key = api_key
        self.client = EngineClient(self.name, base_url or DEFAULT_URL, timeout_s,
                                   {"Authorization": f"Bearer {api_key}"})

    def search(self, query: str, limit: int = 5, lang: str | None = None) -> list[WebResult]:
        query = check_query(query, limit)
        body = {"api_key": self.api_key, "query": query, "max_results": limit, "search_depth": "basic",
                "include_answer": False, "include_raw_content": False}
        response = self.client.request("POST", "/search", json_body=body)
        return parse(self.client.json(response), limit)


def parse(data: Any, limit: int) -> list[WebResult]:
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        detail = data.get("detail") if isinstance(data, dict) else None
        raise SearchUnavailable(f"the Tavily answer has no result list{': ' + str(detail) if detail else ''}",
                                engine="tavily")
    out: list[WebResult] = []
    for item in data["results"]:
        url = web_url(item.get("url")) if isinstance(item, dict) else None
        if url is None:
            continue
        out.append(WebResult(title=clean(item.get("title")) or url, url=url, snippet=clean(item.get("content")),
                             engine="tavily"))
        if len(out) >= limit:
            break
    return out
