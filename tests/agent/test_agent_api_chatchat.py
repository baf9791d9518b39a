"""Chatchat 0.3's agent routes on a real uvicorn with the scripted tool-calling model: /tools lists the
safe tools only, /tools/call runs one (Chatchat's envelope), /chat/chat/completions runs agent chat
with ``tools`` (statuses 6, 7, 2, 5), a chosen tool on ``tool_input`` then the model, or plain chat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.agent.loop_support import (  # noqa: F401  (model: the fixture)
    RUNS, Model, call, last, make_app, model, tool_results, with_kbs)
from tests.api.conftest import LiveServer


def _script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    if body.get("tools") and not tool_results(body):
        return "", [call("t_echo", {"text": "hi"}, 1)]
    if tool_results(body):
        return f"Tool said {tool_results(body)[-1]}.", []
    return f"Echo: {last(body)['content'][-60:]}", []


@pytest.fixture
def live(home: Path, tmp_path: Path, model: Model) -> Iterator[LiveServer]:
    model.script = _script
    with with_kbs(make_app(home, model, ["kb_search", "t_echo", "calculator", "t_write"]), tmp_path) as zk:
        server = LiveServer(zk)
        yield server
        server.stop()


def chunks(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in response.iter_lines() if line.startswith("data:")]


def test_tools_lists_and_calls_the_safe_tools_only(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, timeout=60) as c:
        listed = c.get("/tools").json()
        done = c.post("/tools/call", json={"name": "calculator", "tool_input": {"expression": "6*7"}}).json()
        unsafe = c.post("/tools/call", json={"name": "t_write", "tool_input": {"path": "/etc/passwd"}}).json()
    assert listed["code"] == 200 and set(listed["data"]) == {"kb_search", "t_echo", "calculator"}
    echo = listed["data"]["t_echo"]
    assert echo["name"] == "t_echo" and echo["args"] == {"text": {"type": "string"}} and echo["description"]
    assert done["code"] == 200 and "42" in done["data"]
    assert unsafe["code"] == 500 and "failed to call tool 't_write'" in unsafe["msg"] and RUNS == []


def test_agent_chat_streams_chatchats_statuses(live: LiveServer, model: Model) -> None:
    body = {"model": "anything", "stream": True, "tools": ["t_echo"],
            "messages": [{"role": "user", "content": "say hi"}], "conversation_id": "c1"}
    with httpx.Client(base_url=live.url, timeout=60) as c:
        with c.stream("POST", "/chat/chat/completions", json=body) as r:
            got = chunks(r)
    statuses = [g["status"] for g in got]
    assert statuses[:2] == [6, 7] and statuses[-1] == 5 and set(statuses[2:-1]) == {2}
    start, end = got[0]["choices"][0]["delta"]["tool_calls"][0], got[1]["choices"][0]["delta"]["tool_calls"][0]
    assert start["function"] == {"name": "t_echo", "arguments": '{"text": "hi"}'} and start["tool_output"] is None
    assert end["tool_output"] == "echoed 'hi'" and end["is_error"] is False
    text = "".join(g["choices"][0]["delta"]["content"] for g in got)
    assert text == "Tool said echo: hi." and got[0]["model"] == "tools"
    assert [t["function"]["name"] for t in model.server.requests[0]["tools"]] == ["t_echo"]


def test_a_chosen_tool_on_its_input_then_the_model(live: LiveServer, model: Model) -> None:
    body = {"messages": [{"role": "user", "content": "What is six times seven?"}], "tool_choice": "calculator",
            "tool_input": {"expression": "6*7"}}
    with httpx.Client(base_url=live.url, timeout=60) as c:
        done = c.post("/chat/chat/completions", json=body).json()
        plain = c.post("/chat/chat/completions", json={"messages": body["messages"]}).json()
        refused = c.post("/chat/chat/completions", json={**body, "tool_choice": "t_write"}).json()
    assert done["tool_call"] == "calculator" and done["is_ref"] is True and "42" in done["content"]
    asked = model.server.requests[0]
    assert "tools" not in asked and "42" in asked["messages"][-1]["content"]
    assert done["choices"][0]["message"]["content"].startswith("Echo: ")
    assert plain["choices"][0]["message"]["content"] == "Echo: What is six times seven?"
    assert plain["choices"][0]["message"]["tool_calls"] == []
    assert refused["code"] == 400 and "no tool named 't_write'" in refused["msg"]
