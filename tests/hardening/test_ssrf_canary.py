"""SSRF, one table-driven suite (issue 20's permanent list): a canary HTTP server listens on 127.0.0.1,
and every URL of tests/hardening/canary.py — the canary's address and other internal ones spelt as
loopback, private, link-local, cloud metadata, IPv6 and IPv4-mapped, decimal, octal and hex numbers,
host names whose DNS answer is internal or changes between two looks, and redirects from a "public"
page to each — goes through each way zhiku fetches a URL:

- the guarded fetcher itself (``zhiku.websearch.build_fetcher``, the one every caller uses);
- the read_url tool, called over HTTP on a real uvicorn (``POST /api/tools/call``: the URL a person
  gives; an agent's model passes the URL it read in a question or a document the same way);
- web-search chat, whose engine (a local stand-in) answers with these URLs as its results.

Each must be refused by the guard (not merely fail to connect), and the canary must get no request
at all. DNS is the guard's resolver hook (``UrlGuard(resolver=...)``), not a patched socket; the
stand-in public site on 127.0.0.2 (allowed by ``websearch.allow_networks``) is read through every
path too, so the paths are shown to fetch what they may.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.hardening.canary import PUBLIC_HOST, HttpStub, Resolver, spellings
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
from zhiku.schema import AnswerRequest
from zhiku.testing.live_server import LiveServer
from zhiku.testing.search_server import SearchServer
from zhiku.websearch import FetchRefused, PageFetcher, build_fetcher

# what the guard's refusals say (FetchRefused); a failure to connect says "cannot be fetched" instead.
# A redirect whose Location httpx cannot parse (an octal address such as 0177.0.0.1) is never followed:
# the fetch fails at that hop, before the guard is asked, and nothing is connected to.
REFUSED = re.compile(r"refused to fetch|cloud metadata host|only http and https|does not resolve|"
                     r"not a valid (URL|host name)|has no host|not an address|Invalid URL in location header")


class Web:
    """The canary, the public stand-in on the canary's port, a search engine and the settings."""

    def __init__(self, home: Path) -> None:
        for attempt in range(5):  # the public stand-in needs the canary's port on 127.0.0.2 too
            canary = HttpStub("127.0.0.1")
            try:
                public = HttpStub(PUBLIC_HOST, canary.port, public=True)
                break
            except OSError:
                canary.server.server_close()
                if attempt == 4:
                    raise
        self.canary, self.public = canary.__enter__(), public.__enter__()
        self.engine = SearchServer(results=self._results).__enter__()
        self.batch: list[str] = []
        self.settings = load_settings(home=home, environ={}, overrides={
            "embedding": {"default": "static"}, "llm": {"detect_local": False},
            "websearch": {"engine": "searxng", "base_url": self.engine.base, "allow_networks": [f"{PUBLIC_HOST}/32"],
                          "results": 20, "fetch_pages": 20, "fetch_workers": 8, "fetch_timeout_s": 3.0,
                          "total_timeout_s": 60.0}})
        self.cases = spellings(self.canary.port)

    def _results(self, query: str) -> list[dict[str, Any]]:
        return [{"title": f"result {i}", "url": url, "content": f"snippet {i} about tea"}
                for i, url in enumerate(self.batch)]

    def fetcher(self) -> PageFetcher:
        return build_fetcher(self.settings.websearch, Resolver())

    def close(self) -> None:
        for server in (self.engine, self.public, self.canary):
            server.__exit__(None, None, None)


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    w = Web(tmp_path / "home")
    yield w
    w.close()


def _allowed(web: Web) -> list[str]:
    return [f"http://{PUBLIC_HOST}:{web.canary.port}/", f"http://public.test:{web.canary.port}/page"]


def test_the_table_covers_every_spelling(web: Web) -> None:
    kinds = {kind for kind, _ in web.cases}
    assert kinds >= {"loopback", "private", "link-local", "metadata", "ipv6", "decimal", "octal", "hex", "dns",
                     "redirect", "dns-rebinding", "scheme"}
    assert len(web.cases) >= 100 and len({url for _, url in web.cases}) == len(web.cases)


def test_the_guarded_fetcher_refuses_every_spelling(web: Web) -> None:
    fetcher = web.fetcher()
    for url in _allowed(web):  # the path works: the public stand-in is read
        assert "public page about tea" in fetcher.fetch(url).text
    not_refused = []
    for kind, url in web.cases:
        try:
            page = web.fetcher().fetch(url)  # a fresh resolver each: rebind.test's first answer is the public one
            not_refused.append((kind, url, f"FETCHED {page.final_url}"))
        except FetchRefused:
            pass
        except Exception as exc:  # noqa: BLE001 - a failure to connect is not a refusal
            if not (kind == "redirect" and REFUSED.search(str(exc))):
                not_refused.append((kind, url, repr(exc)))
    assert not_refused == []
    assert web.canary.hits == []
    redirected = sum(1 for kind, _ in web.cases if kind in ("redirect", "dns-rebinding"))
    assert len(web.public.hits) >= redirected  # the redirecting page was asked each time, its target never


def test_read_url_over_http_refuses_every_spelling(web: Web) -> None:
    with Zhiku(web.settings) as zk:
        zk.agent_services["fetcher"] = web.fetcher()
        server = LiveServer(create_app(zk), bind("127.0.0.1", 0), KEEP_ALIVE_S)
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                def call(url: str) -> dict[str, Any]:
                    r = client.post("/api/tools/call", json={"name": "read_url", "arguments": {"url": url}})
                    assert r.status_code == 200, r.text
                    return r.json()

                for url in _allowed(web):
                    zk.agent_services["fetcher"] = web.fetcher()
                    got = call(url)
                    assert got["step"]["status"] == "ok" and "public page about tea" in got["text"], got
                not_refused = []
                for kind, url in web.cases:
                    zk.agent_services["fetcher"] = web.fetcher()
                    step = call(url)["step"]
                    if step["status"] != "error" or not REFUSED.search(step["error"] or ""):
                        not_refused.append((kind, url, step["status"], step["error"]))
        finally:
            server.stop()
    assert not_refused == []
    assert web.canary.hits == []


def test_web_search_chat_refuses_every_spelling(web: Web) -> None:
    with Zhiku(web.settings) as zk:
        chat = zk.answers.web_chat
        web.batch = _allowed(web)
        chat.fetcher = web.fetcher()
        answer = zk.answer(AnswerRequest(mode="search", question="tea"))
        assert answer.web is not None and answer.web.unread == {} and answer.found, answer.web
        unread: dict[str, str] = {}
        for start in range(0, len(web.cases), 20):
            web.batch = [url for _, url in web.cases[start:start + 20]]
            chat.fetcher = web.fetcher()
            answer = zk.answer(AnswerRequest(mode="search", question="tea"))
            # an engine's result that is not an http(s) URL is dropped before anything is fetched
            assert answer.web is not None and [r.url for r in answer.web.results] == [
                url for url in web.batch if url.startswith("http")]
            unread.update(answer.web.unread)
    not_refused = [(kind, url, unread.get(url)) for kind, url in web.cases
                   if kind != "scheme" and not REFUSED.search(unread.get(url) or "")]
    assert not_refused == []
    assert web.canary.hits == []
