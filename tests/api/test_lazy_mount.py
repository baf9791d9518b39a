"""The web UI and the MCP tools of `zhiku start` are set up by their first request, not at start
(zhiku.api.lazy_mount), and a server with a KB warms up after it listens."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from zhiku import Zhiku, load_settings
from zhiku.api.lazy_mount import LazyASGI


def _lazy_app(events: list[str], fail: bool = False) -> tuple[FastAPI, LazyASGI]:
    def build() -> tuple[Any, Any]:
        events.append("built")
        if fail:
            raise ValueError("no such runtime")
        inner = FastAPI()

        @inner.get("/x")
        def x() -> PlainTextResponse:
            return PlainTextResponse("inner")

        @asynccontextmanager
        async def lifespan(app: Any) -> AsyncIterator[None]:
            events.append("started")
            yield
            events.append("stopped")

        return inner, lifespan

    api = FastAPI()

    @api.get("/api/ping")
    def ping() -> PlainTextResponse:
        return PlainTextResponse("pong")

    lazy = LazyASGI(build, "the test app")
    api.router.routes.append(Route("/x", endpoint=lazy))
    api.router.lifespan_context = lazy.lifespan(api.router.lifespan_context)
    return api, lazy


def test_built_and_started_on_the_first_request_and_stopped_with_the_server() -> None:
    events: list[str] = []
    api, lazy = _lazy_app(events)
    with TestClient(api) as client:
        assert client.get("/api/ping").text == "pong"
        assert events == [] and not lazy.built  # the server answers without it
        assert client.get("/x").text == "inner"
        assert client.get("/x").text == "inner"
        assert events == ["built", "started"] and lazy.built
    assert events == ["built", "started", "stopped"]


def test_never_requested_is_never_built() -> None:
    events: list[str] = []
    api, _ = _lazy_app(events)
    with TestClient(api) as client:
        assert client.get("/api/ping").status_code == 200
    assert events == []


def test_build_soon_builds_it_without_a_request() -> None:
    events: list[str] = []
    api, lazy = _lazy_app(events)
    with TestClient(api) as client:
        lazy.build_soon()
        while not lazy.built:  # the server's loop builds it in the background (a thread for build())
            assert client.get("/api/ping").text == "pong"
        assert events == ["built", "started"]
        assert client.get("/x").text == "inner"
    assert events == ["built", "started", "stopped"]


def test_a_build_that_fails_is_an_error_on_its_route_only() -> None:
    events: list[str] = []
    api, _ = _lazy_app(events, fail=True)
    with TestClient(api, raise_server_exceptions=False) as client:
        assert client.get("/x").status_code == 500
        assert client.get("/x").status_code == 500
        assert client.get("/api/ping").text == "pong"
    assert events == ["built"]  # tried once, not on every request


def test_zhiku_start_warms_up_after_listening_and_serves_mcp_and_ui(home: Path, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# 年假\n入职满一年的员工有十五天年假。", encoding="utf-8")
    with Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}})) as app:
        app.create_kb("hr")
        assert app.add_files("hr", [tmp_path / "a.md"]).ok
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    env["ZHIKU_EMBEDDING__DEFAULT"] = "static"
    proc = subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(home), "start", "--port", "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        match = re.search(r"http://127\.0\.0\.1:\d+", proc.stdout.readline())
        assert match, "no URL printed"
        assert "warmed up in" in proc.stdout.readline()  # after "serving on": it warmed up while listening
        with httpx.Client(base_url=match.group(0), timeout=60) as http:
            hits = http.post("/api/search", json={"kbs": ["hr"], "query": "年假"}).json()
            assert hits[0]["text"].endswith("十五天年假。")
            listed = http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
                               headers={"accept": "application/json, text/event-stream"})
            assert listed.status_code == 200 and listed.json()["result"]["tools"]
            page = http.get("/")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
