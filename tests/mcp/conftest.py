"""Fixtures of the MCP tests: a home with knowledge bases (Chinese, English, a two-page PDF), users
with keys and grants, and the MCP tools served over HTTP by a real uvicorn on 127.0.0.1 — the app
`zhiku start` serves (the API with /mcp mounted).

This folder has no __init__.py on purpose: with one, pytest's importlib mode registers it as the
top-level package `mcp`, which hides the MCP SDK of the same name."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
from zhiku.mcp.http import mount_mcp
from zhiku.testing.live_server import LiveServer

ZH = "# 年假制度\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。\n"
EN = "# Refunds\n\nRefunds are paid within 14 days of receiving the returned item.\n"
SECRET = "# 薪酬\n\n董事会成员的年度奖金为三百万元，此信息严格保密。\n"
SHARED = "# Parking\n\nVisitors park on level B2 and show the ticket at the front desk.\n"
OVERRIDES: dict[str, Any] = {"embedding": {"default": "static"}}


def two_page_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    for text in ("The warranty covers parts for two years.", "Batteries are replaced free of charge once."):
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 10, text)
    pdf.output(str(path))
    return path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def kb_home(home: Path, tmp_path: Path) -> Path:
    """A home with KB 手册 (Chinese, English and a PDF); nothing holds it open."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text(ZH, encoding="utf-8")
    (docs / "refund.md").write_text(EN, encoding="utf-8")
    with Zhiku(load_settings(home=home, overrides=OVERRIDES, environ={})) as zk:
        zk.create_kb("手册")
        zk.add_files("手册", [docs / "leave.md", docs / "refund.md", two_page_pdf(docs / "warranty.pdf")])
    return home


@pytest.fixture
def zk(kb_home: Path) -> Iterator[Zhiku]:
    a = Zhiku(load_settings(home=kb_home, overrides=OVERRIDES, environ={}))
    yield a
    a.close()


@dataclass
class Keys:
    """Auth on: alice owns 手册 and reads bob's `shared`; bob owns `secret` and `shared`."""

    alice: str
    alice_write_only: str
    bob: str


@pytest.fixture
def keys(zk: Zhiku, tmp_path: Path) -> Keys:
    auth = zk.auth
    auth.create_user("admin", "admin-password-1", role="admin")
    auth.create_user("alice", "alice-password-1")
    auth.create_user("bob", "bob-password-1")
    for name, text in (("secret", SECRET), ("shared", SHARED)):
        path = tmp_path / f"{name}.md"
        path.write_text(text, encoding="utf-8")
        zk.create_kb(name)
        zk.add_files(name, [path])
        auth.grant(name, "bob", "owner")
    auth.grant("手册", "alice", "owner")
    auth.grant("shared", "alice", "read")
    return Keys(alice=auth.create_key("alice", scopes=["read"])[1],
                alice_write_only=auth.create_key("alice", scopes=["write"])[1],
                bob=auth.create_key("bob")[1])


class MCPLive(LiveServer):
    """What `zhiku start` serves (the API with /mcp mounted), by a real uvicorn on 127.0.0.1."""

    def __init__(self, zhiku: Zhiku) -> None:
        api = create_app(zhiku)
        mount_mcp(api, zhiku)
        super().__init__(api, bind("127.0.0.1", 0), KEEP_ALIVE_S)
        self.base = self.url
        self.url = self.base + "/mcp"


@pytest.fixture
def live(zk: Zhiku) -> Iterator[MCPLive]:
    server = MCPLive(zk)
    yield server
    server.stop()


@asynccontextmanager
async def http_client(url: str, key: str | None = None) -> AsyncIterator[Any]:
    """The official MCP client over streamable HTTP, sending ``key`` as a bearer token."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=60) as client:
            yield client
