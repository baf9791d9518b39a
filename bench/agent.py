"""The agent loop's own overhead per step (zhiku.agent.loop, through the answer pipeline).

A scripted OpenAI-compatible model server (zhiku.testing.tool_server, a real HTTP server on 127.0.0.1)
calls a tool that does nothing, step after step, then answers; the app asks it in agent mode with N
steps. Each agent answer's model requests are recorded and then replayed, the same bodies in the same
order, straight through the same chat model client (``OpenAICompatModel.stream``): what the model calls
cost on their own. The loop's overhead per step is (agent answer - replayed model calls - the tool's
own run time) / N: building messages, checking the call, running the tool on its thread with its
timeout, numbering sources, the events and the trace. Agent runs and replays are interleaved run by run.

    python bench/agent.py [--runs 30 --steps 1 3 6]
Writes docs/benchmarks/agent.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, pct, write_json

from zhiku import Zhiku, load_settings
from zhiku.agent.base import ToolContext, ToolResult, ToolSpec
from zhiku.plugins import registry
from zhiku.schema import AnswerRequest, Final, GenerationOptions, ToolStep
from zhiku.testing.tool_server import ToolChatServer

TOOL_RUNS: list[float] = []  # seconds each run of the tool took inside it


class Noop:
    spec = ToolSpec("bench_noop", "Do nothing and say so.",
                    {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        started = time.perf_counter()
        result = ToolResult(text=f"step {arguments['n']} done", summary="done")
        TOOL_RUNS.append(time.perf_counter() - started)
        return result


def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Call the tool until the question's step count is reached, then answer."""
    messages = body["messages"]
    wanted = int(next(m["content"] for m in messages if m["role"] == "user").split("=")[1])
    done = sum(1 for m in messages if m["role"] == "tool")
    if body.get("tools") and done < wanted:
        n = done + 1
        return "", [{"id": f"call_{n}", "type": "function",
                     "function": {"name": "bench_noop", "arguments": json.dumps({"n": n})}}]
    return f"Done after {done} steps.", []


def agent_run(zk: Zhiku, steps: int) -> tuple[float, int]:
    started = time.perf_counter()
    trace = []
    for event in zk.answer_stream(AnswerRequest(mode="agent", question=f"steps={steps}")):
        if isinstance(event, ToolStep):
            trace.append(event)
        if isinstance(event, Final):
            assert event.answer.answer == f"Done after {steps} steps.", event.answer.answer
    return time.perf_counter() - started, len(trace)


def replay(zk: Zhiku, bodies: list[dict[str, Any]]) -> float:
    """The same model requests, straight through the chat model client."""
    llm = zk.chat_models.get("bench")
    started = time.perf_counter()
    for body in bodies:
        options = GenerationOptions(tools=body["tools"]) if body.get("tools") else None
        for _ in llm.stream(body["messages"], max_tokens=body.get("max_tokens"), temperature=body.get("temperature"),
                            options=options):
            pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 3, 6])
    args = parser.parse_args()
    if "bench_noop" not in registry().names("tool"):
        registry().add("tool", "bench_noop", lambda context: Noop())
    rows = []
    with ToolChatServer(models=("bench",), script=script) as server, tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=Path(tmp) / "home", environ={}, overrides={
            "embedding": {"default": "static"},
            "llm": {"default": "bench", "detect_local": False,
                    "models": {"bench": {"base_url": server.base_url, "model": "bench"}}},
            "agent": {"tools": ["bench_noop"], "max_steps": max(args.steps) + 1}})
        with Zhiku(settings) as zk:
            for _ in range(3):  # warm-up: the client's connection, imports, the tool's first thread
                agent_run(zk, 1)
            for steps in args.steps:
                load_before = machine()["loadavg"]
                agent_s, model_s, tool_s, per_step = [], [], [], []
                for _ in range(args.runs):
                    server.requests.clear()
                    TOOL_RUNS.clear()
                    took, made = agent_run(zk, steps)
                    assert made == steps
                    bodies = list(server.requests)
                    assert len(bodies) == steps + 1
                    raw = replay(zk, bodies)
                    tool = sum(TOOL_RUNS)
                    agent_s.append(took)
                    model_s.append(raw)
                    tool_s.append(tool)
                    per_step.append((took - raw - tool) / steps)
                row = {"steps": steps, "runs": args.runs, "model_calls": steps + 1,
                       "agent_ms_p50": round(pct(agent_s, 50) * 1000, 2),
                       "agent_ms_p95": round(pct(agent_s, 95) * 1000, 2),
                       "model_calls_ms_p50": round(pct(model_s, 50) * 1000, 2),
                       "tool_ms_p50": round(pct(tool_s, 50) * 1000, 3),
                       "overhead_per_step_ms_p50": round(pct(per_step, 50) * 1000, 2),
                       "overhead_per_step_ms_p95": round(pct(per_step, 95) * 1000, 2),
                       "loadavg_before": load_before, "loadavg_after": machine()["loadavg"]}
                rows.append(row)
                print(json.dumps(row))
    path = write_json("agent.json", {"machine": machine(), "rows": rows, "method": __doc__})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
