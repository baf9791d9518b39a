"""`zhiku mcp serve` as a real subprocess, driven by the official `mcp` client over stdio; and
`zhiku start` serving the same tools at /mcp next to the API and the web UI."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mcp.conftest import http_client

pytestmark = pytest.mark.anyio


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    env["ZHIKU_EMBEDDING__DEFAULT"] = "static"
    return env


async def test_mcp_serve_over_stdio(kb_home: Path) -> None:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "zhiku", "--home", str(kb_home), "mcp", "serve"],
                                   env=_env())
    async with Client(params, read_timeout_seconds=120) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"list_knowledge_bases", "search", "ask", "read_chunk", "read_page"}
        listed = await client.call_tool("list_knowledge_bases", {})
        assert listed.structured_content["knowledge_bases"][0]["name"] == "手册"

        zh = await client.call_tool("search", {"query": "年假可以分次休吗", "kbs": ["手册"]})
        hit = zh.structured_content["results"][0]
        assert hit["file"] == "leave.md" and "半天" in hit["text"]

        answer = await client.call_tool("ask", {"question": "When are refunds paid?"})
        assert "14 days" in answer.structured_content["answer"]
        assert answer.structured_content["citations"][0]["file"] == "refund.md"

        chunk = await client.call_tool("read_chunk", {"kb": "手册", "chunk_id": hit["chunk_id"], "context_chunks": 1})
        assert "十五天" in chunk.structured_content["text"] and hit["chunk_id"] in chunk.structured_content["chunk_ids"]

        bad = await client.call_tool("search", {"query": "年假", "kbs": ["没有这个库"]})
        assert bad.is_error and "does not exist" in bad.content[0].text
        still = await client.call_tool("search", {"query": "refund"})
        assert not still.is_error


async def test_zhiku_start_serves_mcp_beside_the_ui(kb_home: Path) -> None:
    log = (kb_home.parent / "server.log").open("a")
    proc = subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(kb_home), "start", "--port", "0"],
                            env=_env(), stdout=subprocess.PIPE, stderr=log, text=True)
    log.close()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, (line, (kb_home.parent / "server.log").read_text()[-3000:])
        async with http_client(match.group(0) + "/mcp") as client:
            assert "search" in {t.name for t in (await client.list_tools()).tools}
            found = await client.call_tool("search", {"query": "refunds", "kbs": ["手册"]})
            assert found.structured_content["results"][0]["file"] == "refund.md"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
