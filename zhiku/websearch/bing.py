"""Bing Web Search API v7: ``GET /v7.0/search`` with the ``Ocp-Apim-Subscription-Key`` header."""

from __future__ import annotations

from typing import Any

from zhiku.errors import ConfigError
from zhiku.websearch.base import EngineClient, SearchUnavailable, WebResult, check_query, clean, web_url

DEFAULT_URL = "https://api.bing.microsoft.com"
MARKETS = {"zh": "zh-CN", "en": "en-US"}


class Bing:
    name = "bing"

    def __init__(self, api_key: str | None, base_url: str | None = None, timeout_s: float = 10.0) -> None:
        if not api_key:
            raise ConfigError("the bing search engine needs an API key: set websearch.api_key or api_key_env")
        self.client = EngineClient(self.name, base_url or DEFAULT_URL, timeout_s,
                                   {"Ocp-Apim-Subscription-Key": api_key})

    def search(self, query: str, limit: int = 5, lang: str | None = None) -> list[WebResult]:
        query = check_query(query, limit)
        params: dict[str, Any] = {"q": query, "count": limit, "responseFilter": "Webpages", "textFormat": "Raw"}
        if lang in MARKETS:
            params["mkt"] = MARKETS[lang]
        response = self.client.request("GET", "/v7.0/search", params=params)
        return parse(self.client.json(response), limit)


def parse(data: Any, limit: int) -> list[WebResult]:
    if not isinstance(data, dict):
        raise SearchUnavailable("the Bing answer is not a JSON object", engine="bing")
    if "error" in data and "webPages" not in data:
        err = data.get("error") or {}
        raise SearchUnavailable(f"Bing answered an error: {clean(err.get('message')) or err}", engine="bing")
    values = (data.get("webPages") or {}).get("value") or []
    out: list[WebResult] = []
    for item in values:
        url = web_url(item.get("url")) if isinstance(item, dict) else None
        if url is None:
            continue
        out.append(WebResult(title=clean(item.get("name")) or url, url=url, snippet=clean(item.get("snippet")),
                             engine="bing"))
        if len(out) >= limit:
            break
    return out
