"""Fixtures of the API tests: an app on the static embedder, the typed client over an
in-process ASGI transport (sync and async) and over a real uvicorn on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import anyio.from_thread
import httpx
import pytest

from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
from zhiku.client import AsyncZhikuClient, ZhikuClient
from zhiku.testing.live_server import LiveServer as TestingLiveServer

ZH = "# 年假制度\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。\n"
EN = "# Refunds\n\nRefunds are paid within 14 days of receiving the returned item.\n"
SICK = "# 病假\n\n员工因病休假需提供医院证明。病假工资按基本工资的百分之八十发放。\n"


# small limits so that "too large" costs a few MB: 1 MB per file, 2 MB per upload
OVERRIDES: dict[str, Any] = {
    "embedding": {"default": "static"}, "ingest": {"max_file_mb": 1}, "server": {"max_upload_mb": 2}}


@pytest.fixture
def zk(home: Path) -> Iterator[Zhiku]:
    a = Zhiku(load_settings(home=home, overrides=OVERRIDES, environ={}))
    yield a
    a.close()


class SyncASGITransport(httpx.BaseTransport):
    """httpx's ASGITransport is async only: run it in a blocking portal for the sync client."""

    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)
        self._cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._cm.__enter__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> tuple[int, httpx.Headers, bytes]:
            response = await self._transport.handle_async_request(request)
            return response.status_code, response.headers, await response.aread()

        status, headers, body = self._portal.call(send)
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


class LiveServer(TestingLiveServer):
    """The app served as `zhiku start` serves it, by a real uvicorn on 127.0.0.1."""

    def __init__(self, zhiku: Zhiku) -> None:
        super().__init__(create_app(zhiku), bind("127.0.0.1", 0), KEEP_ALIVE_S)


@pytest.fixture
def live(zk: Zhiku) -> Iterator[LiveServer]:
    server = LiveServer(zk)
    yield server
    server.stop()


@pytest.fixture(params=["asgi", "uvicorn"])
def client(request: pytest.FixtureRequest, zk: Zhiku) -> Iterator[ZhikuClient]:
    """The sync client, in-process (ASGI) and over HTTP to a real uvicorn."""
    if request.param == "asgi":
        transport = SyncASGITransport(create_app(zk))
        with ZhikuClient("http://zhiku.test", transport=transport) as c:
            yield c
        transport.close()
    else:
        server = LiveServer(zk)
        with ZhikuClient(server.url) as c:
            yield c
        server.stop()


@pytest.fixture
def asgi(zk: Zhiku) -> Iterator[ZhikuClient]:
    """The sync client over the in-process app only (fast; for tests that do not need a socket)."""
    transport = SyncASGITransport(create_app(zk))
    with ZhikuClient("http://zhiku.test", transport=transport) as c:
        yield c
    transport.close()


@pytest.fixture
def raw(zk: Zhiku) -> Iterator[httpx.Client]:
    """A plain httpx client on the in-process app, for requests the typed client would never send."""
    transport = SyncASGITransport(create_app(zk))
    with httpx.Client(base_url="http://zhiku.test", transport=transport) as c:
        yield c
    transport.close()


@pytest.fixture
def aclient(zk: Zhiku) -> AsyncZhikuClient:
    return AsyncZhikuClient("http://zhiku.test", transport=httpx.ASGITransport(app=create_app(zk)))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def assert_error(response: httpx.Response, status: int, type_: str | None = None) -> dict[str, Any]:
    """The one error shape, with the expected status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    openai_fields = {"code", "param"} if response.request.url.path.startswith("/v1/") else set()  # OpenAI's, on /v1
    assert set(body) == {"error"} and set(body["error"]) - openai_fields == {"type", "message", "details"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    if type_ is not None:
        assert body["error"]["type"] == type_, body
    return body["error"]


def many_docs(n: int, paragraphs: int = 6) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        body = "\n\n".join(
            f"第{i}号文档第{j}段：这是关于项目{i}的说明，包含预算{i * 100 + j}元和负责人张{j}。" * 3
            for j in range(paragraphs))
        out.append((f"doc{i:03d}.md", f"# 文档 {i}\n\n{body}\n".encode()))
    return out
