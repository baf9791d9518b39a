"""Fixtures of the web UI tests: a real API server (uvicorn on 127.0.0.1) for the pages to talk to,
with a knowledge base holding a Chinese and an English document."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.api.conftest import OVERRIDES, LiveServer
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, need_browser
from zhiku import Zhiku, load_settings
from zhiku.client import ZhikuClient
from zhiku.ui import context

ZH_DOC = "# 年假制度\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。\n"
EN_DOC = "# Refunds\n\nRefunds are paid within 14 days of receiving the returned item.\n"
# what an attacker would put in a document, a file name or a question: none of it may ever run
XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1">'
XSS_DOC = f"# 安全\n\n报销需要在三十天内提交。{XSS}\n"
XSS_NAME = '<img src=x onerror="window.__xss=1">.md'


@pytest.fixture
def api(home: Path) -> Iterator[LiveServer]:
    zk = Zhiku(load_settings(home=home, overrides=OVERRIDES, environ={}))
    server = LiveServer(zk)
    context.configure(server.url)
    yield server
    server.stop()
    zk.close()


@pytest.fixture
def client(api: LiveServer) -> Iterator[ZhikuClient]:
    with ZhikuClient(api.url) as c:
        yield c


@pytest.fixture
def handbook(client: ZhikuClient) -> str:
    """A KB 手册 with a Chinese, an English and a hostile document, indexed."""
    client.create_kb("手册", "员工手册 <b>handbook</b>")
    job = client.upload("手册", [("年假.md", ZH_DOC.encode()), ("refunds.md", EN_DOC.encode()),
                                 (XSS_NAME, XSS_DOC.encode())])
    assert client.wait_for_job(job.id, timeout=60).status == "done"
    assert {f.status for f in client.list_files("手册")} == {"indexed"}
    return "手册"


@pytest.fixture
def browser() -> Iterator[Any]:
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
