"""Agent mode over the API on a real uvicorn, with the scripted tool-calling model: /api/chat streams
each tool call as a ``tool_step`` event before the text and returns the trace with the message; a
conversation in agent mode stores the trace with the answer; KB search reads only KBs the caller may
read; ``GET /api/tools`` lists the caller's tools, ``POST /api/tools/call`` is for admins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.agent.loop_support import (  # noqa: F401  (model: the fixture)
    RUNS, Model, call, make_app, model, tool_results, with_kbs)
from tests.api.conftest import LiveServer
from zhiku import Zhiku

PASSWORD = "correct horse battery"


def _script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    if not tool_results(body):
        names = [t["function"]["name"] for t in body.get("tools") or []]
        if "kb_search" in names:
            return "", [call("kb_search", {"query": "capital of France"}, 1)]
        return "", [call("t_echo", {"text": "hi"}, 1)]
    return "Paris is the capital [1].", []


@pytest.fixture
def zk(home: Path, tmp_path: Path, model: Model) -> Iterator[Zhiku]:
    model.script = _script
    with with_kbs(make_app(home, model, ["kb_search", "t_echo", "calculator"]), tmp_path) as app:
        yield app


@pytest.fixture
def live(zk: Zhiku) -> Iterator[LiveServer]:
    server = LiveServer(zk)
    yield server
    server.stop()


def sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events, name = [], "message"
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line[5:])))
    return events


def test_api_chat_streams_tool_steps_and_returns_the_trace(live: LiveServer) -> None:
    body = {"mode": "agent", "kbs": ["world"], "messages": [{"role": "user", "content": "Capital of France?"}]}
    with httpx.Client(base_url=live.url, timeout=60) as c:
        with c.stream("POST", "/api/chat", json={**body, "stream": True}) as r:
            assert r.status_code == 200
            events = sse(r)
        whole = c.post("/api/chat", json=body).json()
    names = [n for n, _ in events]
    assert names[0] == "start" and names[-1] == "done" and names.index("tool_step") < names.index("delta")
    step = dict(events)["tool_step"]
    assert (step["tool"], step["arguments"], step["status"], step["sources"]) == (
        "kb_search", {"query": "capital of France"}, "ok", step["sources"]) and step["sources"]
    done = events[-1][1]
    assert done["mode"] == "agent" and done["trace"][0]["tool"] == "kb_search"
    assert done["content"] == "Paris is the capital [1]." and done["citations"][0]["file"] == "world/paris.md"
    assert whole["trace"][0]["status"] == "ok" and whole["citations"][0]["file"] == "world/paris.md"


def test_a_conversation_in_agent_mode_stores_the_trace(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, timeout=60) as c:
        conv = c.post("/api/conversations", json={"mode": "agent", "kbs": ["world"]}).json()
        sent = c.post(f"/api/conversations/{conv['id']}/messages", json={"content": "Capital of France?"}).json()
        stored = c.get(f"/api/conversations/{conv['id']}").json()["messages"]
    assert sent["trace"][0]["tool"] == "kb_search"
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["trace"] == sent["trace"] and stored[0]["trace"] is None
    assert stored[1]["citations"][0]["kb"] == "world"


def test_agentic_kb_chat_is_an_option_of_kb_chat(live: LiveServer, model: Model) -> None:
    ask = {"mode": "kb", "kbs": ["world"], "messages": [{"role": "user", "content": "Capital of France?"}]}
    with httpx.Client(base_url=live.url, timeout=60) as c:
        plain = c.post("/api/chat", json=ask).json()
        assert "tools" not in model.server.requests[-1] and plain["trace"] is None  # the default: one search
        agentic = c.post("/api/chat", json={**ask, "agentic": True}).json()
    assert [s["tool"] for s in agentic["trace"]] == ["kb_search"]
    assert [t["function"]["name"] for t in model.server.requests[-2]["tools"]] == ["kb_search"]


def _keys(zk: Zhiku) -> tuple[str, str]:
    zk.auth.create_user("root", PASSWORD, "admin")
    zk.auth.create_user("pat", PASSWORD, "user")
    zk.auth.grant("world", "pat", "read")
    return zk.auth.create_key("root", "k", ("read", "write", "admin"))[1], \
        zk.auth.create_key("pat", "k", ("read", "write"))[1]


def test_kb_search_reads_only_what_the_caller_may_read(zk: Zhiku, live: LiveServer, model: Model) -> None:
    _, user = _keys(zk)
    ask = {"mode": "agent", "messages": [{"role": "user", "content": "What is the launch code?"}]}
    with httpx.Client(base_url=live.url, timeout=60, headers={"Authorization": f"Bearer {user}"}) as c:
        refused = c.post("/api/chat", json={**ask, "kbs": ["world", "secret"]})
        assert refused.status_code == 404 and "secret" in refused.json()["error"]["message"]
        conv = c.post("/api/conversations", json={"mode": "agent", "kbs": ["secret"]})
        assert conv.status_code == 404
        answered = c.post("/api/chat", json={**ask, "kbs": ["world"]}).json()
    assert answered["trace"][0]["status"] == "ok" and "4242" not in str(model.server.requests)


def test_tools_are_listed_for_the_caller_and_called_by_admins(zk: Zhiku, live: LiveServer) -> None:
    admin, user = _keys(zk)
    with httpx.Client(base_url=live.url, timeout=60, headers={"Authorization": f"Bearer {user}"}) as c:
        listed = c.get("/api/tools").json()
        forbidden = c.post("/api/tools/call", json={"name": "calculator", "arguments": {"expression": "2+3"}})
    by_name = {t["name"]: t for t in listed}
    assert set(by_name) == {"kb_search", "t_echo", "calculator"}
    assert "world" in by_name["kb_search"]["description"] and "secret" not in by_name["kb_search"]["description"]
    assert by_name["calculator"]["read_only"] and by_name["calculator"]["parameters"]["type"] == "object"
    assert forbidden.status_code == 403
    with httpx.Client(base_url=live.url, timeout=60, headers={"Authorization": f"Bearer {admin}"}) as c:
        done = c.post("/api/tools/call", json={"name": "calculator", "arguments": {"expression": "2+3"}}).json()
        unknown = c.post("/api/tools/call", json={"name": "shell", "arguments": {"cmd": "ls"}}).json()
        searched = c.post("/api/tools/call", json={"name": "kb_search",
                                                    "arguments": {"query": "launch code"}}).json()
    assert done["step"]["status"] == "ok" and "5" in done["text"]
    assert unknown["step"]["status"] == "refused" and "no tool named 'shell'" in unknown["step"]["error"]
    assert searched["step"]["status"] == "ok" and any("4242" in s["text"] for s in searched["sources"])


def _approving(live: LiveServer, model: Model, approve: bool | None) -> tuple[list[tuple[str, Any]], int]:
    """A streamed agent answer whose model calls t_write; the test answers its approval request."""
    model.script = lambda body: ("", [call("t_write", {"path": "/tmp/x"}, 1)]) if not tool_results(body) \
        else (f"Result: {tool_results(body)[-1]}", [])
    body = {"mode": "agent", "messages": [{"role": "user", "content": "delete /tmp/x"}], "stream": True,
            "approvals": True}
    events: list[tuple[str, Any]] = []
    status = 0
    with httpx.Client(base_url=live.url, timeout=60) as c, c.stream("POST", "/api/chat", json=body) as r:
        name = "message"
        for line in r.iter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line[5:])))
                if name == "approval_request" and approve is not None:
                    decided = c.post(f"/api/chat/approvals/{events[-1][1]['id']}", json={"approve": approve})
                    status = decided.status_code
                    again = c.post(f"/api/chat/approvals/{events[-1][1]['id']}", json={"approve": approve})
                    assert again.status_code == 404  # decided once
    return events, status


def test_a_tool_that_acts_on_the_world_runs_once_the_user_approves(zk: Zhiku, live: LiveServer,
                                                                    model: Model) -> None:
    zk.settings.agent.tools.append("t_write")
    events, status = _approving(live, model, True)
    assert status == 204
    request = dict(events)["approval_request"]
    assert (request["tool"], request["arguments"], request["step"]) == ("t_write", {"path": "/tmp/x"}, 1)
    step = dict(events)["tool_step"]
    assert step["status"] == "ok" and RUNS == [("t_write", {"path": "/tmp/x"})]
    assert events[-1][1]["content"] == "Result: deleted"


def test_a_denied_or_unanswered_call_is_refused(zk: Zhiku, live: LiveServer, model: Model) -> None:
    zk.settings.agent.tools.append("t_write")
    events, _ = _approving(live, model, False)
    assert dict(events)["tool_step"]["status"] == "refused" and "denied" in dict(events)["tool_step"]["error"]
    zk.settings.agent.approval_timeout_s = 0.3
    events, _ = _approving(live, model, None)
    assert "did not approve the call of 't_write' within 0.3 s" in dict(events)["tool_step"]["error"]
    assert RUNS == []
    ask = {"mode": "agent", "messages": [{"role": "user", "content": "delete"}]}
    with httpx.Client(base_url=live.url, timeout=60) as c:  # without approvals (the default): refused at once
        whole = c.post("/api/chat", json=ask)
        unstreamed = c.post("/api/chat", json={**ask, "approvals": True})
        missing = c.post(f"/api/chat/approvals/{'0' * 32}", json={"approve": True})
    assert "cannot ask for it" in whole.json()["trace"][0]["error"] and missing.status_code == 404
    assert unstreamed.status_code == 400 and "stream: true" in unstreamed.json()["error"]["message"]


def test_a_stopped_agent_answer_keeps_its_trace(zk: Zhiku, live: LiveServer, model: Model) -> None:
    import time

    zk.settings.agent.tools.append("t_slow")
    model.script = lambda body: ("", [call("t_slow", {}, 1)]) if not tool_results(body) else ("late", [])
    with httpx.Client(base_url=live.url, timeout=60) as c:
        conv = c.post("/api/conversations", json={"mode": "agent"}).json()
        with pytest.raises(httpx.ReadTimeout):  # the client gives up while the tool runs, and leaves
            with httpx.Client(base_url=live.url, timeout=httpx.Timeout(60, read=1.0)) as impatient:
                impatient.post(f"/api/conversations/{conv['id']}/messages", json={"content": "wait", "stream": True})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            stored = c.get(f"/api/conversations/{conv['id']}").json()["messages"]
            if len(stored) == 2:
                break
            time.sleep(0.2)
    answer = stored[1]
    assert answer["status"] == "stopped" and [s["status"] for s in answer["trace"]] == ["cancelled"]
    assert answer["trace"][0]["tool"] == "t_slow" and len(model.server.requests) == 1
