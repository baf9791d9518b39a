"""The MCP client: configured MCP servers (real subprocesses: tests/agent/mcp_demo_server.py over stdio
and streamable HTTP, and `zhiku mcp serve`) contribute their tools to agent mode, driven by the scripted
tool-calling model. A killed server and a hanging one give a typed error within the server's timeout,
the agent answers anyway, and the server's tools are then listed as unavailable; a tool not trusted as
read-only runs only after the user approves the call."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.agent.loop_support import (  # noqa: F401  (model: the fixture)
    Model, ask, call, final, make_app, model, steps, tool_results, with_kbs)
from tests.api.conftest import LiveServer
from zhiku import Zhiku, load_settings
from zhiku.agent.mcp_client import McpClients, McpServerError, McpTimeout
from zhiku.config.agent import McpServerSettings
from zhiku.llm.base import CallControl, Timeouts
from zhiku.schema import AnswerRequest, ApprovalRequest, ToolStep
from zhiku.testing.llm_servers import free_port

DEMO = str(Path(__file__).with_name("mcp_demo_server.py"))


def demo(notes: Path, **fields: Any) -> dict[str, Any]:
    """The demo server over stdio: `add` trusted as read-only, the rest needing approval."""
    return {"name": "demo", "command": sys.executable, "args": [DEMO, "stdio"], "env": {"DEMO_NOTES": str(notes)},
            "timeout_s": 20, "tools": {"add": {"read_only": True}}, **fields}


def calls_then_answers(name: str, arguments: dict[str, Any]) -> Any:
    """A model that calls ``name`` once, then answers with what it read."""
    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        results = tool_results(body)
        if not results:
            return "", [call(name, arguments, 1)]
        return f"Done. The tool said: {results[-1]}", []
    return script


def offered(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools") or []]


def test_a_stdio_servers_tools_are_called_by_the_agent(home: Path, tmp_path: Path, model: Model) -> None:
    model.script = calls_then_answers("demo__add", {"a": 2, "b": 3})
    with make_app(home, model, ["calculator"], mcp_servers=[demo(tmp_path / "notes")]) as zk:
        events = ask(zk, "What is 2 + 3?")
    spec = next(t["function"] for t in model.server.requests[0]["tools"] if t["function"]["name"] == "demo__add")
    assert set(spec["parameters"]["properties"]) == {"a", "b"} and "Add two whole numbers" in spec["description"]
    assert "calculator" in offered(model.server.requests[0])
    (step,) = steps(events)
    assert (step.tool, step.status, step.arguments) == ("demo__add", "ok", {"a": 2, "b": 3})
    assert "2 + 3 = 5" in (step.summary or "")
    assert final(events).answer == "Done. The tool said: 2 + 3 = 5"


def test_a_tool_not_trusted_as_read_only_waits_for_the_users_approval(home: Path, tmp_path: Path,
                                                                     model: Model) -> None:
    notes = tmp_path / "notes"
    model.script = calls_then_answers("demo__note", {"text": "buy milk"})
    with make_app(home, model, [], mcp_servers=[demo(notes)]) as zk:
        refused = ask(zk, "Note: buy milk")  # no way to ask the user: refused, not run
        assert steps(refused)[0].status == "refused" and "needs the user's approval" in (steps(refused)[0].error or "")
        assert not notes.exists()

        for approve in (False, True):
            seen: list[Any] = []
            stream = zk.answer_stream(AnswerRequest(mode="agent", question="Note: buy milk", approvals=True))
            for event in stream:
                seen.append(event)
                if isinstance(event, ApprovalRequest):
                    assert event.tool == "demo__note" and event.arguments == {"text": "buy milk"}
                    assert not notes.exists()  # nothing ran before the decision
                    zk.answers.approvals.decide(event.id, "local", approve)
            (step,) = [e for e in seen if isinstance(e, ToolStep)]
            if approve:
                assert step.status == "ok" and notes.read_text(encoding="utf-8") == "buy milk\n"
            else:
                assert step.status == "refused" and "denied" in (step.error or "") and not notes.exists()


def test_a_killed_server_gives_a_typed_error_and_the_agent_answers_anyway(home: Path, tmp_path: Path,
                                                                         model: Model) -> None:
    model.script = calls_then_answers("demo__die", {})
    server = demo(tmp_path / "notes", read_only=True, retry_s=3600)
    with make_app(home, model, ["calculator"], mcp_servers=[server]) as zk:
        events = ask(zk, "Stop the demo server.")
        (step,) = steps(events)
        assert step.status == "error" and "MCP server 'demo' failed" in (step.error or "")
        assert final(events).answer.startswith("Done. The tool said: Error: MCP server 'demo' failed")

        model.script = lambda body: ("No demo tools now.", [])
        again = ask(zk, "Anything else?")  # the server's tools are no longer offered; the rest are
        assert offered(model.server.requests[-1]) == ["calculator"] and final(again).answer == "No demo tools now."
        clients = zk.agent_services["mcp"]
        (state,) = clients.states(connect=False)
        assert state.status == "unavailable" and "failed" in (state.error or "")
        with pytest.raises(McpServerError, match="is unavailable"):
            clients.connections["demo"].call("add", {"a": 1, "b": 1})


def test_a_hanging_server_times_out_and_the_agent_answers_anyway(home: Path, tmp_path: Path, model: Model) -> None:
    """The server's own timeout_s is 20 s; the agent's limit for one call (2.5 s) bounds it, so the hang
    ends in the client, typed, half a second before the loop would give up on the call."""
    model.script = calls_then_answers("demo__hang", {})
    server = demo(tmp_path / "notes", read_only=True, retry_s=3600)
    with make_app(home, model, [], mcp_servers=[server], tool_timeout_s=2.5) as zk:
        events = ask(zk, "Wait for the demo server.")
        (step,) = steps(events)
        assert step.status == "error" and step.error == "MCP server 'demo' did not answer within 2 s"
        assert "did not answer within 2 s" in final(events).answer
        assert zk.agent_services["mcp"].states(connect=False)[0].status == "unavailable"


def test_the_clients_errors_are_typed_and_the_server_is_tried_again(tmp_path: Path) -> None:
    clients = McpClients([McpServerSettings(**demo(tmp_path / "notes", timeout_s=2, retry_s=0))])
    try:
        connection = clients.connections["demo"]
        with pytest.raises(McpTimeout, match="did not answer within 2 s"):
            connection.call("hang", {})
        assert connection.status == "unavailable"
        assert connection.call("add", {"a": 1, "b": 2}).content[0].text == "1 + 2 = 3"  # a new process
        assert connection.status == "available"
        with pytest.raises(McpServerError, match="failed"):
            connection.call("die", {})
        failed = connection.call("fail", {})  # the tool's own error: the server stays up
        assert failed.is_error and connection.status == "available"
    finally:
        clients.close()
    broken = McpClients([McpServerSettings(name="gone", command=sys.executable, args=["-c", "raise SystemExit(2)"],
                                           timeout_s=5)])
    assert broken.tools() == []
    (state,) = broken.states(connect=False)
    assert state.status == "unavailable" and state.error
    broken.close()


@pytest.fixture
def http_demo(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DEMO_NOTES": str(tmp_path / "notes")}
    proc = subprocess.Popen([sys.executable, DEMO, "http", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the demo server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_streamable_http_server_and_the_tools_routes(home: Path, tmp_path: Path, model: Model,
                                                       http_demo: str) -> None:
    model.script = calls_then_answers("web-demo__add", {"a": 40, "b": 2})
    servers = [{"name": "web-demo", "url": http_demo, "headers": {"X-Demo": "1"}, "read_only": True,
                "tools": {"die": {"enabled": False}}},
               {"name": "off", "command": sys.executable, "enabled": False}]
    with make_app(home, model, ["calculator"], mcp_servers=servers) as zk:
        events = ask(zk, "40 + 2?")
        assert steps(events)[0].status == "ok" and "40 + 2 = 42" in final(events).answer
        assert "web-demo__die" not in offered(model.server.requests[0])
        live = LiveServer(zk)
        try:
            with httpx.Client(base_url=live.url, timeout=60) as c:
                tools = {t["name"]: t for t in c.get("/api/tools").json()}
                servers_now = {s["name"]: s for s in c.get("/api/tools/servers").json()}
        finally:
            live.stop()
    assert tools["web-demo__add"]["server"] == "web-demo" and tools["web-demo__add"]["status"] == "available"
    assert tools["web-demo__add"]["read_only"] and tools["calculator"]["server"] is None
    assert "web-demo__die" not in tools
    web = servers_now["web-demo"]
    assert (web["transport"], web["target"], web["status"]) == ("http", http_demo, "available")
    assert {t["name"] for t in web["tools"]} >= {"add", "note", "die"} and "X-Demo" not in str(web)
    assert servers_now["off"]["status"] == "disabled" and servers_now["off"]["tools"] == []


def test_zhiku_mcp_serve_is_a_server_the_client_uses(home: Path, tmp_path: Path, model: Model) -> None:
    """A round trip: the agent of one zhiku searches another zhiku's KBs through `zhiku mcp serve`."""
    other = tmp_path / "other-home"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refund.md").write_text("# Refunds\n\nRefunds are paid within 14 days of receiving the item.\n",
                                    encoding="utf-8")
    with Zhiku(load_settings(home=other, overrides={"embedding": {"default": "static"}}, environ={})) as remote:
        remote.create_kb("handbook")
        assert remote.add_files("handbook", [docs]).ok
    env = {"ZHIKU_EMBEDDING__DEFAULT": "static"}
    server = {"name": "zhiku", "command": sys.executable, "args": ["-m", "zhiku", "--home", str(other), "mcp", "serve"],
              "env": env, "read_only": True, "timeout_s": 120}
    model.script = calls_then_answers("zhiku__search", {"query": "when are refunds paid", "kbs": ["handbook"]})
    with make_app(home, model, [], mcp_servers=[server]) as zk:
        events = ask(zk, "When are refunds paid?", control=CallControl(Timeouts(total=300)))
    (step,) = steps(events)
    assert step.status == "ok" and step.tool == "zhiku__search"
    assert "14 days" in final(events).answer and "refund.md" in final(events).answer
    assert {"zhiku__list_knowledge_bases", "zhiku__ask", "zhiku__read_chunk"} <= set(offered(model.server.requests[0]))


def test_the_settings_page_lists_the_servers_with_their_tools_and_status(home: Path, tmp_path: Path,
                                                                        model: Model) -> None:
    from tests.ui.test_pages import page, texts
    from zhiku.ui import context

    servers = [demo(tmp_path / "notes"),
               {"name": "broken", "command": sys.executable, "args": ["-c", "raise SystemExit(2)"], "retry_s": 3600}]
    with make_app(home, model, [], mcp_servers=servers) as zk:
        live = LiveServer(zk)
        context.configure(live.url)
        try:
            at = page("settings")
            at.run()
        finally:
            live.stop()
    assert not at.exception, at.exception
    shown = texts(at) + "\n".join(str(t.value) for t in at.text)
    assert "**demo** — 可用" in shown and "**broken** — 不可用" in shown  # the UI opens in Chinese
    assert "demo__add — 只读" in shown and "demo__note — 需要批准" in shown
    assert "could not be started" in shown or "connection closed" in shown
    markdown = "\n".join(str(m.value) for m in at.markdown)
    assert "evil.example" not in markdown  # a server's words are shown as text: no image is loaded
    assert "evil.example" in shown


def test_zhiku_mcp_servers_lists_them(home: Path, tmp_path: Path, cli: Any) -> None:
    import json

    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(json.dumps({"agent": {"mcp_servers": [demo(tmp_path / "notes")]}}),
                                      encoding="utf-8")
    done = cli("mcp", "servers")
    assert done.code == 0, done.err
    assert f"demo stdio {sys.executable}: available" in done.out
    assert "  demo__add  Add two whole numbers." in done.out and "  demo__note *  Write a note" in done.out
    listed = cli("mcp", "servers", "--json")
    assert json.loads(listed.out)[0]["status"] == "available"
