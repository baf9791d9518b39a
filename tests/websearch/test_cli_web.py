"""`zhiku web search` and `zhiku web ask` against the local engine."""

from __future__ import annotations

import json

import pytest

from zhiku.testing.search_server import SearchServer


@pytest.fixture
def web_env(server: SearchServer, monkeypatch: pytest.MonkeyPatch) -> SearchServer:
    monkeypatch.setenv("ZHIKU_WEBSEARCH__ENGINE", "searxng")
    monkeypatch.setenv("ZHIKU_WEBSEARCH__BASE_URL", server.base)
    monkeypatch.setenv("ZHIKU_WEBSEARCH__ALLOW_NETWORKS", "[127.0.0.1/32]")
    monkeypatch.setenv("ZHIKU_LLM__DETECT_LOCAL", "false")
    return server


def test_web_search_lists_titles_urls_and_snippets(cli, web_env: SearchServer) -> None:  # type: ignore[no-untyped-def]
    r = cli("web", "search", "Longjing tea", "--limit", "2")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "1. Volcanoes" and lines[1].strip() == f"{web_env.base}/pages/volcano"
    assert "3." not in r.out and "2. Longjing tea - Tea Encyclopedia" in r.out and "pan-roasted" in r.out
    data = json.loads(cli("web", "search", "Longjing tea", "--json").out)
    assert [d["url"] for d in data][1] == f"{web_env.base}/pages/tea" and data[0]["engine"] == "searxng:google,bing"


def test_web_ask_prints_answer_and_cited_urls(cli, web_env: SearchServer) -> None:  # type: ignore[no-untyped-def]
    r = cli("web", "ask", "When is Longjing tea harvested?")
    assert r.code == 0, r.err
    assert "harvested in early spring" in r.out
    assert f"[1] Longjing tea - Tea Encyclopedia {web_env.base}/pages/tea" in r.out
    data = json.loads(cli("web", "ask", "When is Longjing tea harvested?", "--json").out)
    assert data["found"] and data["citations"][0]["url"] == f"{web_env.base}/pages/tea"


def test_errors_are_one_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    r = cli("web", "search", "anything")
    assert r.code == 1 and r.err.strip().startswith("error: web search is off") and len(r.err.strip().splitlines()) == 1
    with SearchServer() as gone:
        port = gone.port
    monkeypatch.setenv("ZHIKU_WEBSEARCH__ENGINE", "searxng")
    monkeypatch.setenv("ZHIKU_WEBSEARCH__BASE_URL", f"http://127.0.0.1:{port}")
    r = cli("web", "ask", "anything")
    assert r.code == 1 and "cannot be reached" in r.err and "Traceback" not in r.err
    r = cli("web", "search", "anything", "--engine", "altavista")
    assert r.code == 1 and "unknown search engine 'altavista'" in r.err
