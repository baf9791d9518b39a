"""The MCP tools over streamable HTTP at /mcp of a real server, through the official `mcp` client:
the tools, search and ask with citations (Chinese and English), reading a chunk and a page, API-key
auth with per-KB grants, tool errors for bad arguments, and the edge's Host and Origin checks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp import MCPError

from tests.mcp.conftest import Keys, MCPLive, http_client
from zhiku.schema import limits

pytestmark = pytest.mark.anyio
TOOLS = {"list_knowledge_bases", "search", "ask", "read_chunk", "read_page"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "raw", "version": "0"}}}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _error(result: Any) -> str:
    assert result.is_error, result
    return result.content[0].text


async def test_tools_search_ask_and_read_over_http(live: MCPLive) -> None:
    async with http_client(live.url) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        assert all(t.annotations.read_only_hint for t in tools.values())

        listed = await client.call_tool("list_knowledge_bases", {})
        assert [k["name"] for k in listed.structured_content["knowledge_bases"]] == ["手册"]

        zh = await client.call_tool("search", {"query": "年假有几天？", "kbs": ["手册"], "top_k": 3})
        assert not zh.is_error
        first = zh.structured_content["results"][0]
        assert first["file"] == "leave.md" and first["kb"] == "手册" and "十五天" in first["text"]
        assert {"chunk_id", "page", "file_id", "score"} <= set(first)
        assert "leave.md" in zh.content[0].text and "[1]" in zh.content[0].text

        en = await client.call_tool("search", {"query": "how many days until refunds are paid", "mode": "lexical"})
        assert en.structured_content["results"][0]["file"] == "refund.md"

        answer = await client.call_tool("ask", {"question": "入职满一年有几天年假？"})
        data = answer.structured_content
        assert data["found"] and "十五天" in data["answer"] and "[1]" in data["answer"]
        assert data["citations"][0]["file"] == "leave.md" and data["citations"][0]["n"] == 1
        assert "[1] leave.md (手册, chunk" in answer.content[0].text

        english = await client.call_tool("ask", {"question": "When are refunds paid?", "kbs": ["手册"]})
        assert "14 days" in english.structured_content["answer"]
        assert english.structured_content["citations"][0]["file"] == "refund.md"

        chunk = await client.call_tool("read_chunk", {"kb": "手册", "chunk_id": first["chunk_id"]})
        assert not chunk.is_error and "十五天" in chunk.structured_content["text"]
        assert chunk.structured_content["file"] == "leave.md"

        page = await client.call_tool("read_page", {"kb": "手册", "file": "warranty.pdf", "page": 2})
        assert "Batteries" in page.structured_content["text"] and page.structured_content["pages"] == 2
        assert page.structured_content["file"] == "warranty.pdf" and page.structured_content["chunk_ids"]
        first_page = await client.call_tool("read_page", {"kb": "手册", "file": "warranty.pdf", "page": 1})
        assert "warranty covers parts" in first_page.structured_content["text"]


async def test_bad_arguments_are_tool_errors_and_the_session_goes_on(live: MCPLive) -> None:
    async with http_client(live.url) as client:
        assert "does not exist" in _error(await client.call_tool("search", {"query": "x", "kbs": ["没有"]}))
        assert "empty" in _error(await client.call_tool("search", {"query": "   "}))
        assert "top_k" in _error(await client.call_tool("search", {"query": "x", "top_k": 0}))
        assert "top_k" in _error(await client.call_tool("ask", {"question": "x", "top_k": 10_000}))
        long = "长" * (limits.QUESTION_MAX_CHARS + 1)
        assert "query" in _error(await client.call_tool("search", {"query": long}))
        assert "mode" in _error(await client.call_tool("search", {"query": "x", "mode": "psychic"}))
        assert "does not exist" in _error(await client.call_tool("read_chunk", {"kb": "手册", "chunk_id": 99_999}))
        assert "chunk_id" in _error(await client.call_tool("read_chunk", {"kb": "手册", "chunk_id": -1}))
        assert "page 9" in _error(await client.call_tool("read_page", {"kb": "手册", "file": "warranty.pdf",
                                                                        "page": 9}))
        assert "no file" in _error(await client.call_tool("read_page", {"kb": "手册", "file": "nope.pdf",
                                                                         "page": 1}))
        # the session is still there
        ok = await client.call_tool("search", {"query": "年假"})
        assert not ok.is_error


async def test_keys_and_grants_decide_what_a_caller_sees(live: MCPLive, keys: Keys) -> None:
    async with http_client(live.url, keys.alice) as alice:
        listed = await alice.call_tool("list_knowledge_bases", {})
        assert sorted(k["name"] for k in listed.structured_content["knowledge_bases"]) == ["shared", "手册"]
        # bob's KB is "does not exist", word for word as an unknown one
        hidden = _error(await alice.call_tool("search", {"query": "奖金", "kbs": ["secret"]}))
        unknown = _error(await alice.call_tool("search", {"query": "奖金", "kbs": ["nosuch"]}))
        assert hidden.replace("secret", "X") == unknown.replace("nosuch", "X")
        assert "does not exist" in _error(await alice.call_tool("ask", {"question": "奖金多少", "kbs": ["secret"]}))
        assert "does not exist" in _error(await alice.call_tool("read_chunk", {"kb": "secret", "chunk_id": 1}))
        # searching "everything" never reaches the KB she cannot read
        everywhere = await alice.call_tool("search", {"query": "董事会 奖金 三百万元", "top_k": 20})
        assert all(r["kb"] != "secret" for r in everywhere.structured_content["results"])
        assert "三百万" not in everywhere.content[0].text
        # the KB bob granted her read access to is searchable
        shared = await alice.call_tool("search", {"query": "where do visitors park", "kbs": ["shared"]})
        assert shared.structured_content["results"][0]["kb"] == "shared"
    async with http_client(live.url, keys.bob) as bob:
        found = await bob.call_tool("search", {"query": "董事会奖金", "kbs": ["secret"]})
        assert "三百万" in found.structured_content["results"][0]["text"]
        assert "does not exist" in _error(await bob.call_tool("search", {"query": "年假", "kbs": ["手册"]}))


async def test_no_key_is_401_and_a_key_without_read_is_403(live: MCPLive, keys: Keys) -> None:
    async with httpx.AsyncClient(base_url=live.base) as raw:
        missing = await raw.post("/mcp", json=INIT, headers=ACCEPT)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        wrong = await raw.post("/mcp", json=INIT, headers={**ACCEPT, "Authorization": "Bearer zk_not-a-key"})
        assert wrong.status_code == 401
        write_only = await raw.post("/mcp", json=INIT,
                                    headers={**ACCEPT, "Authorization": f"Bearer {keys.alice_write_only}"})
        assert write_only.status_code == 403 and "read" in write_only.json()["error"]["message"]
        allowed = await raw.post("/mcp", json=INIT, headers={**ACCEPT, "Authorization": f"Bearer {keys.alice}"})
        assert allowed.status_code == 200, allowed.text
    with pytest.raises(ExceptionGroup) as refused:  # the official client, without a key: it cannot connect
        async with http_client(live.url) as client:
            await client.list_tools()
    assert refused.group_contains(MCPError)


async def test_the_edge_guards_mcp(live: MCPLive) -> None:
    async with httpx.AsyncClient(base_url=live.base) as raw:
        # a program on this machine sends no Origin: it passes
        assert (await raw.post("/mcp", json=INIT, headers=ACCEPT)).status_code == 200
        # this server's own origin passes
        own = await raw.post("/mcp", json=INIT, headers={**ACCEPT, "Origin": live.base})
        assert own.status_code == 200
        # a page of another site may not drive the tools
        cross = await raw.post("/mcp", json=INIT, headers={**ACCEPT, "Origin": "https://evil.example"})
        assert cross.status_code == 403
        fetch = await raw.post("/mcp", json=INIT, headers={**ACCEPT, "Sec-Fetch-Site": "cross-site"})
        assert fetch.status_code == 403
        # DNS rebinding: a foreign Host header reaches nothing
        rebound = await raw.post("/mcp", json=INIT, headers={**ACCEPT, "Host": "evil.example"})
        assert rebound.status_code == 421
