"""The ``websearch`` settings section: the engine of web-search chat and how its pages are fetched."""

from __future__ import annotations

from pydantic import Field, field_validator

from zhiku.config.base import _registered_name, _Section


class WebSearchSettings(_Section):
    engine: str = Field(
        "none", description="search engine of web-search chat: searxng (your instance's JSON API), duckduckgo "
        "(its HTML page, no key), bing (Web Search API v7, key), tavily (key), one a plugin adds, or none "
        "(web search off)"
    )
    base_url: str | None = Field(
        None, description="the engine's URL (required for searxng, e.g. http://127.0.0.1:8888; the others "
        "default to their public endpoints)"
    )
    api_key: str | None = Field(None, description="API key of bing or tavily (or use api_key_env)")
    api_key_env: str | None = Field(None, description="environment variable holding the engine's API key")
    results: int = Field(5, ge=1, le=20, description="search results asked of the engine")
    fetch_pages: int = Field(
        3, ge=0, le=20, description="best results whose pages are fetched and read (0: answer from snippets only)"
    )
    fetch_workers: int = Field(4, ge=1, le=16, description="pages fetched at once")
    max_page_kb: int = Field(1024, ge=16, le=65536, description="bytes read of one page at most (the rest is cut)")
    fetch_timeout_s: float = Field(8.0, gt=0, le=120, description="seconds one page fetch may take, redirects included")
    total_timeout_s: float = Field(
        20.0, gt=0, le=600, description="seconds searching and fetching together may take (slower pages are skipped)"
    )
    search_timeout_s: float = Field(10.0, gt=0, le=120, description="seconds the engine may take to answer")
    max_redirects: int = Field(5, ge=0, le=20, description="redirects followed per page, each one re-checked")
    allow_private: bool = Field(
        False, description="let result pages resolve to loopback, private or link-local addresses (cloud metadata "
        "addresses stay refused); the engine's own URL is always trusted"
    )
    allow_networks: list[str] = Field(
        default_factory=list, description="networks result pages may reach although private, e.g. [10.1.0.0/16] "
        "for an intranet"
    )
    passages: int = Field(6, ge=1, le=30, description="best passages of the fetched pages given to the answer")
    dense_candidates: int = Field(
        12, ge=0, le=200, description="passages (best lexical ones, then each page's first) also ranked by the "
        "default embedder; 0: lexical ranking only"
    )

    @field_validator("engine")
    @classmethod
    def _registered(cls, v: str) -> str:
        return _registered_name("search_engine", v, "none", "searxng", "duckduckgo", "bing", "tavily")

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"'{net}' is not a network (write e.g. 10.1.0.0/16 or fd12::/48)") from None
        return v
