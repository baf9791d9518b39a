"""Fixtures of the web-search tests: a local search engine + web (SearchServer) and an app
whose engine is that server. The server is on 127.0.0.1, so apps that must *read* its
pages allow that one address (``allow_networks``); the guard itself is tested with a
resolver hook, not by patching sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zhiku import Zhiku, load_settings
from zhiku.testing.search_server import SearchServer


@pytest.fixture
def server() -> Iterator[SearchServer]:
    with SearchServer() as s:
        yield s


def web_settings(home: Path, server: SearchServer, llm: dict[str, Any] | None = None, **websearch: Any) -> Any:
    ws = {"engine": "searxng", "base_url": server.base, "allow_networks": ["127.0.0.1/32"], **websearch}
    return load_settings(home=home, overrides={
        "embedding": {"default": "static"}, "llm": {"detect_local": False, **(llm or {})}, "websearch": ws})


@pytest.fixture
def web_app(home: Path, server: SearchServer) -> Iterator[Zhiku]:
    app = Zhiku(web_settings(home, server))
    yield app
    app.close()
