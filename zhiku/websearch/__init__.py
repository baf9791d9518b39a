"""Web search: engines behind one protocol, an SSRF-guarded page fetcher, passage ranking.

``build_engine(settings.websearch)`` gives the configured engine; ``collect`` runs a
search, fetches the best result pages concurrently and splits them into passages.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from zhiku.config import WebSearchSettings
from zhiku.errors import ConfigError, Unavailable
from zhiku.websearch.base import (
    FetchFailed,
    FetchRefused,
    SearchEngine,
    SearchUnavailable,
    WebResult,
)
from zhiku.websearch.fetch import Page, PageFetcher
from zhiku.websearch.guard import Resolver, UrlGuard

if TYPE_CHECKING:
    from zhiku.plugins import Registry

ENGINES = ("searxng", "duckduckgo", "bing", "tavily")  # the built-in ones; plugins may add more


def api_key(settings: WebSearchSettings) -> str | None:
    if settings.api_key:
        return settings.api_key
    if settings.api_key_env:
        return os.environ.get(settings.api_key_env) or None
    return None


def _searxng(s: WebSearchSettings) -> SearchEngine:
    from zhiku.websearch.searxng import SearXNG

    if not s.base_url:
        raise ConfigError("the searxng engine needs websearch.base_url, the URL of your SearXNG instance")
    return SearXNG(s.base_url, s.search_timeout_s)


def _duckduckgo(s: WebSearchSettings) -> SearchEngine:
    from zhiku.websearch.duckduckgo import DuckDuckGo

    return DuckDuckGo(s.base_url, s.search_timeout_s)


def _bing(s: WebSearchSettings) -> SearchEngine:
    from zhiku.websearch.bing import Bing

    return Bing(api_key(s), s.base_url, s.search_timeout_s)


def _tavily(s: WebSearchSettings) -> SearchEngine:
    from zhiku.websearch.tavily import Tavily

    return Tavily(api_key(s), s.base_url, s.search_timeout_s)


EngineFactory = Callable[[WebSearchSettings], SearchEngine]


def register_backends(registry: "Registry") -> None:
    """zhiku's own search engines (kind ``search_engine``: a factory taking ``WebSearchSettings``)."""
    for name, factory in (("searxng", _searxng), ("duckduckgo", _duckduckgo), ("bing", _bing), ("tavily", _tavily)):
        registry.add("search_engine", name, factory)


def build_engine(settings: WebSearchSettings, engine: str | None = None) -> SearchEngine:
    """The engine named (default: ``settings.engine``); ``Unavailable`` when web search is off,
    ``ConfigError`` naming the choices when no plugin registered that name."""
    from zhiku.plugins import lookup

    name = engine or settings.engine
    if name == "none":
        raise Unavailable("web search is off: set websearch.engine (searxng, duckduckgo, bing or tavily)")
    factory: EngineFactory = lookup("search_engine", name)
    return factory(settings)


def build_fetcher(settings: WebSearchSettings, resolver: Resolver | None = None) -> PageFetcher:
    guard = UrlGuard(settings.allow_private, settings.allow_networks, resolver)
    return PageFetcher(guard, settings.max_page_kb * 1024, settings.fetch_timeout_s, settings.max_redirects)


__all__ = [
    "ENGINES", "EngineFactory", "FetchFailed", "FetchRefused", "Page", "PageFetcher", "SearchEngine", "SearchUnavailable",
    "UrlGuard", "WebResult", "api_key", "build_engine", "build_fetcher",
]
