"""Each engine against a local server answering in that engine's documented shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.websearch.conftest import web_settings
from zhiku.errors import ConfigError, Unavailable
from zhiku.testing.search_server import SearchServer
from zhiku.websearch import SearchEngine, SearchUnavailable, build_engine
from zhiku.websearch.bing import Bing
from zhiku.websearch.duckduckgo import DuckDuckGo
from zhiku.websearch.searxng import SearXNG
from zhiku.websearch.tavily import Tavily


def test_searxng_json_api(server: SearchServer) -> None:
    engine = SearXNG(server.base)
    assert isinstance(engine, SearchEngine)
    results = engine.search("  龙井茶  ", limit=2, lang="zh")
    assert [r.title for r in results] == ["Volcanoes", "Longjing tea - Tea Encyclopedia"]
    assert results[1].url == f"{server.base}/pages/tea" and "pan-roasted" in results[1].snippet
    assert results[0].engine == "searxng:google,bing"
    sent = server.requests[-1]
    assert sent["path"] == "/search" and sent["query"]["q"] == ["龙井茶"] and sent["query"]["format"] == ["json"]
    assert sent["query"]["language"] == ["zh-CN"]


def test_searxng_skips_results_without_a_web_url_and_duplicates(home: Path) -> None:
    items = [{"title": "A", "url": "{base}/pages/tea"}, {"title": "dup", "url": "{base}/pages/tea"},
             {"title": "mail", "url": "mailto:x@example.com"}, {"title": "", "url": "https://example.org/b"}]
    with SearchServer(results=items) as s:
        results = SearXNG(s.base).search("q", limit=10)
    assert [(r.title, r.url) for r in results] == [("A", f"{s.base}/pages/tea"), ("https://example.org/b",
                                                                                   "https://example.org/b")]


def test_searxng_without_json_format_says_how_to_enable_it() -> None:
    with SearchServer(searxng_json=False) as s, pytest.raises(SearchUnavailable, match="search.formats"):
        SearXNG(s.base).search("q")


def test_bing_v7(server: SearchServer) -> None:
    results = Bing("k-123", server.base).search("Longjing tea", limit=3, lang="en")
    assert [r.url for r in results] == [f"{server.base}/pages/volcano", f"{server.base}/pages/tea",
                                        f"{server.base}/pages/tea-zh"]
    assert results[1].title == "Longjing tea - Tea Encyclopedia" and results[1].engine == "bing"
    sent = server.requests[-1]
    assert sent["path"] == "/v7.0/search" and sent["headers"]["Ocp-Apim-Subscription-Key"] == "k-123"
    assert sent["query"]["mkt"] == ["en-US"] and sent["query"]["count"] == ["3"]
    with pytest.raises(ConfigError, match="API key"):
        Bing(None, server.base)
    keyless = Bing("x", server.base)
    keyless.client.headers.pop("Ocp-Apim-Subscription-Key")  # the server answers 401 as Bing does
    with pytest.raises(SearchUnavailable, match="refused the API key"):
        keyless.search("q")


def test_tavily(server: SearchServer) -> None:
    results = Tavily("tvly-abc", server.base).search("Longjing tea", limit=2)
    assert [r.title for r in results] == ["Volcanoes", "Longjing tea - Tea Encyclopedia"]
    assert results[1].snippet.startswith("Longjing tea is") and results[1].engine == "tavily"
    sent = server.requests[-1]
    assert sent["method"] == "POST" and sent["headers"]["Authorization"] == "Bearer tvly-abc"
    body = json.loads(sent["body"])
    assert body["max_results"] == 2 and body["query"] == "Longjing tea"


def test_duckduckgo_html(server: SearchServer) -> None:
    results = DuckDuckGo(server.base).search("Longjing tea", limit=5, lang="zh")
    assert [r.url for r in results] == [f"{server.base}/pages/volcano", f"{server.base}/pages/tea",
                                        f"{server.base}/pages/tea-zh"]  # the ad is skipped, uddg decoded
    assert results[1].title == "Longjing tea - Tea Encyclopedia" and "pan-roasted" in results[1].snippet
    sent = server.requests[-1]
    assert sent["method"] == "POST" and sent["path"] == "/html/" and "kl=cn-zh" in sent["body"]


def test_duckduckgo_no_results_and_unknown_layout() -> None:
    with SearchServer(results=[]) as s:
        assert DuckDuckGo(s.base).search("nothing at all") == []
    with SearchServer(ddg_html="<html><body><p>Something changed</p></body></html>") as s:
        with pytest.raises(SearchUnavailable, match="layout"):
            DuckDuckGo(s.base).search("q")


def test_unreachable_engine_and_bad_answers() -> None:
    with SearchServer() as gone:
        port = gone.port
    with pytest.raises(SearchUnavailable, match="cannot be reached"):
        SearXNG(f"http://127.0.0.1:{port}").search("q")
    with SearchServer() as s:
        with pytest.raises(SearchUnavailable, match="not JSON"):
            SearXNG(s.base + "/pages/tea?").search("q")  # an HTML page where JSON was expected
        with pytest.raises(SearchUnavailable, match="HTTP 500"):
            SearXNG(s.base + "/status/500?").search("q")


def test_empty_query_refused(server: SearchServer) -> None:
    from zhiku.errors import InvalidInput

    with pytest.raises(InvalidInput, match="empty"):
        SearXNG(server.base).search("   ")
    assert not server.requests


def test_engine_from_settings(home: Path, server: SearchServer, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = web_settings(home, server)
    assert isinstance(build_engine(settings.websearch), SearXNG)
    with pytest.raises(Unavailable, match="web search is off"):
        build_engine(settings.websearch.model_copy(update={"engine": "none"}))
    with pytest.raises(ConfigError, match="base_url"):
        build_engine(settings.websearch.model_copy(update={"base_url": None}))
    monkeypatch.setenv("MY_TAVILY_KEY", "tvly-env")
    tavily = build_engine(settings.websearch.model_copy(update={"engine": "tavily", "api_key_env": "MY_TAVILY_KEY"}))
    assert isinstance(tavily, Tavily) and tavily.api_key == "tvly-env"
    with pytest.raises(ConfigError, match="API key"):
        build_engine(settings.websearch.model_copy(update={"engine": "bing"}))
