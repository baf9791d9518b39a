"""`zhiku ask --trace`: agentic KB chat from the command line, each tool call printed before the answer,
locally and with --server (the trace travels with the answer), with the scripted tool-calling model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.agent.loop_support import (  # noqa: F401  (model: the fixture)
    Model, call, make_app, model, tool_results, with_kbs)
from tests.api.conftest import LiveServer


def _script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    if body.get("tools") and not tool_results(body):
        return "", [call("kb_search", {"query": "capital of France"}, 1)]
    return "Paris is the capital [1].", []


def _configured(home: Path, model: Model) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(json.dumps({
        "embedding": {"default": "static"},
        "llm": {"default": "tools", "detect_local": False,
                "models": {"tools": {"base_url": model.server.base_url, "model": "tools"}}}}), encoding="utf-8")


def test_ask_trace_prints_the_tool_calls_then_the_answer(home: Path, tmp_path: Path, model: Model, cli: Any) -> None:
    model.script = _script
    _configured(home, model)
    with_kbs(make_app(home, model, []), tmp_path).close()
    done = cli("ask", "world", "What is the capital of France?", "--trace")
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0] == "tool calls: 1"
    assert lines[1].startswith("1. kb_search(query='capital of France') → ") and "passages" in lines[1]
    assert "Paris is the capital [1]." in done.out and "world/paris.md" in done.out
    plain = cli("ask", "world", "What is the capital of France?")
    assert "tool calls" not in plain.out and "tools" not in model.server.requests[-1]


def test_ask_trace_with_a_server(home: Path, tmp_path: Path, model: Model, cli: Any) -> None:
    model.script = _script
    _configured(home, model)
    with with_kbs(make_app(home, model, []), tmp_path) as zk:
        server = LiveServer(zk)
        try:
            done = cli("--server", server.url, "ask", "world", "What is the capital of France?", "--trace")
        finally:
            server.stop()
    assert done.code == 0, done.err
    assert done.out.splitlines()[0] == "tool calls: 1" and "1. kb_search(" in done.out
    assert "Paris is the capital [1]." in done.out
