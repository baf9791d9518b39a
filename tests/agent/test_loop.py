"""Agent mode through the answer pipeline, with a scripted tool-calling model (zhiku.testing.tool_server,
a real HTTP server spoken to by the openai SDK) and tools registered at run time: the trace, refused
calls (unknown, not enabled, bad arguments, acting on the world), errors, the step limit, per-tool and
total timeouts, cancellation, and the ReAct text protocol."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.agent.loop_support import (  # noqa: F401  (model: the fixture)
    RUNS, SEEN_CANCEL, Model, ask, call, final, last, make_app, model, steps, tool_results)
from zhiku import Zhiku, load_settings
from zhiku.errors import Cancelled, ModelTimeout, Unavailable
from zhiku.llm.base import CallControl, Timeouts
from zhiku.schema import AnswerEvent, AnswerRequest, Final, Notice

# -- the loop ------------------------------------------------------------------------------------
def test_a_tool_call_is_run_traced_and_answered(home: Path, model: Model) -> None:
    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        if last(body)["role"] == "user":
            return "", [call("t_echo", {"text": "bonjour"})]
        return f"The tool said: {tool_results(body)[-1]}", []

    model.script = script
    with make_app(home, model, ["t_echo"]) as zk:
        events = ask(zk, "Say bonjour through the tool")
    trace = steps(events)
    assert [(s.step, s.tool, s.arguments, s.status, s.protocol) for s in trace] == [
        (1, "t_echo", {"text": "bonjour"}, "ok", "tools")]
    assert trace[0].summary == "echoed 'bonjour'" and trace[0].error is None and trace[0].duration_ms >= 0
    answer = final(events)
    assert answer.answer == "The tool said: echo: bonjour" and answer.model == "tools"
    assert answer.trace == trace and RUNS == [("t_echo", {"text": "bonjour"})]
    first, second = model.server.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["t_echo"]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["text"]
    assistant, tool = second["messages"][-2:]
    assert assistant["tool_calls"][0]["id"] == "call_1" and tool == {
        "role": "tool", "content": "echo: bonjour", "tool_call_id": "call_1"}
    # the trace comes before the text, the final answer last
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ToolStep") < kinds.index("Delta") < kinds.index("Final") == len(kinds) - 1


def test_unknown_not_enabled_and_badly_called_tools_are_refused_not_run(home: Path, model: Model) -> None:
    calls = [call("shell", {"cmd": "rm -rf /"}, 1), call("t_spy", {"data": "x"}, 2),
             call("t_echo", {"txt": "typo"}, 3), {"id": "call_4", "type": "function",
                                                 "function": {"name": "t_echo", "arguments": "{not json"}}]

    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        return ("", calls) if last(body)["role"] == "user" else ("Could not do it.", [])

    model.script = script
    with make_app(home, model, ["t_echo"]) as zk:  # t_spy is registered but not enabled
        events = ask(zk, "do things")
    trace = steps(events)
    assert [s.status for s in trace] == ["refused"] * 4 and RUNS == []
    assert "no tool named 'shell'" in (trace[0].error or "") and "tools: t_echo" in (trace[0].error or "")
    assert "no tool named 't_spy'" in (trace[1].error or "")
    assert "missing required argument(s): text" in (trace[2].error or "")
    assert "could not be read" in (trace[3].error or "")
    results = tool_results(model.server.requests[-1])
    assert len(results) == 4 and all(r.startswith("Refused: ") for r in results)
    assert final(events).answer == "Could not do it."


def test_a_tool_that_acts_on_the_world_is_refused_without_approval(home: Path, model: Model) -> None:
    model.script = lambda body: ("", [call("t_write", {"path": "/etc/passwd"})]) if last(body)["role"] == "user" \
        else ("Not deleted.", [])
    with make_app(home, model, ["t_write"]) as zk:
        events = ask(zk, "delete the file")
    (step,) = steps(events)
    assert step.status == "refused" and "needs the user's approval" in (step.error or "") and RUNS == []


def test_tool_errors_reach_the_model_as_results_and_the_answer_goes_on(home: Path, model: Model) -> None:
    model.script = lambda body: ("", [call("t_fail", {}, 1), call("t_crash", {}, 2)]) \
        if last(body)["role"] == "user" else ("Both failed.", [])
    with make_app(home, model, ["t_fail", "t_crash"]) as zk:
        events = ask(zk, "try")
    fail, crash = steps(events)
    assert (fail.status, fail.error) == ("error", "the database is closed")
    assert crash.status == "error" and "KeyError" in (crash.error or "")
    assert tool_results(model.server.requests[-1]) == [
        "Error: the database is closed", f"Error: {crash.error}"]
    assert final(events).answer == "Both failed."


def test_the_step_limit_ends_tool_calls_and_says_so(home: Path, model: Model) -> None:
    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        if body.get("tools"):  # a model that would call tools forever
            n = len(tool_results(body)) + 1
            return "", [call("t_echo", {"text": f"again {n}"}, n)]
        return "Stopping here.", []

    model.script = script
    with make_app(home, model, ["t_echo"], max_steps=2) as zk:
        events = ask(zk, "loop")
    assert [s.arguments["text"] for s in steps(events)] == ["again 1", "again 2"]
    assert len(model.server.requests) == 3 and "tools" not in model.server.requests[-1]
    assert "all the tool calls" in last(model.server.requests[-1])["content"]
    notice = next(e for e in events if isinstance(e, Notice))
    answer = final(events)
    assert "limit of 2 tool calls" in notice.text and answer.warning == notice.text
    assert answer.answer.endswith("Stopping here.")


def test_a_slow_tool_times_out_and_the_answer_goes_on(home: Path, model: Model) -> None:
    model.script = lambda body: ("", [call("t_slow", {})]) if last(body)["role"] == "user" else ("Too slow.", [])
    SEEN_CANCEL.clear()
    with make_app(home, model, ["t_slow"], tool_timeout_s=0.3) as zk:
        events = ask(zk, "wait")
    (step,) = steps(events)
    assert step.status == "timeout" and "within 0.3 s" in (step.error or "")
    assert final(events).answer == "Too slow."
    assert SEEN_CANCEL.wait(2), "the tool was told to give up"


def test_the_whole_answer_has_a_time_limit(home: Path, model: Model) -> None:
    model.script = lambda body: ("", [call("t_slow", {})]) if last(body)["role"] == "user" else ("never", [])
    with make_app(home, model, ["t_slow"], total_timeout_s=0.5) as zk:
        prepared = zk.answers.prepare(AnswerRequest(mode="agent", question="wait"))
        assert prepared.timeouts.total == 0.5
        with pytest.raises(ModelTimeout, match="did not finish its answer within 0.5 s"):
            list(zk.answers.events(prepared))


def test_a_stop_cancels_a_running_tool(home: Path, model: Model) -> None:
    model.script = lambda body: ("", [call("t_slow", {})]) if last(body)["role"] == "user" else ("never", [])
    SEEN_CANCEL.clear()
    with make_app(home, model, ["t_slow"]) as zk:
        control = CallControl(Timeouts(total=60))
        threading.Timer(0.3, control.cancel.set).start()
        seen: list[AnswerEvent] = []
        with pytest.raises(Cancelled):
            for event in zk.answer_stream(AnswerRequest(mode="agent", question="wait"), control):
                seen.append(event)
    assert [s.status for s in steps(seen)] == ["cancelled"] and not any(isinstance(e, Final) for e in seen)
    assert SEEN_CANCEL.wait(2) and len(model.server.requests) == 1


def test_agent_mode_needs_a_chat_model(home: Path, model: Model) -> None:
    overrides = {"embedding": {"default": "static"}, "llm": {"detect_local": False}}
    with Zhiku(load_settings(home=home, overrides=overrides, environ={})) as zk:
        with pytest.raises(Unavailable, match="agent mode and agentic KB chat need a chat model"):
            zk.answer_stream(AnswerRequest(mode="agent", question="hi"))
        zk.create_kb("kb")
        with pytest.raises(Unavailable, match="need a chat model"):
            zk.answer_stream(AnswerRequest(mode="kb", kbs=["kb"], question="hi", agentic=True))


# -- the ReAct text protocol ----------------------------------------------------------------------
def test_react_protocol_runs_the_action_and_drops_an_invented_observation(home: Path, model: Model) -> None:
    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        if "Observation: echo:" in last(body)["content"]:
            return "Thought: done\nFinal Answer: The echo worked.", []
        return ('Thought: I need the tool\nAction: t_echo\nAction Input: {"text": "hi"}\n'
                "Observation: invented\nAction: t_spy\nAction Input: {\"data\": \"x\"}"), []

    model.script = script
    with make_app(home, model, ["t_echo", "t_spy"], protocol="react") as zk:
        events = ask(zk, "echo hi")
    assert [(s.tool, s.arguments, s.status, s.protocol) for s in steps(events)] == [
        ("t_echo", {"text": "hi"}, "ok", "react")]
    assert RUNS == [("t_echo", {"text": "hi"})] and final(events).answer == "The echo worked."
    first, second = model.server.requests
    assert "tools" not in first and "Action Input:" in first["messages"][0]["content"]
    assert "Observation:" in first["stop"]
    assert second["messages"][-2] == {"role": "assistant", "content":
                                      'Thought: I need the tool\nAction: t_echo\nAction Input: {"text": "hi"}'}


def test_react_replies_without_protocol_or_with_bad_input(home: Path, model: Model) -> None:
    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        content = last(body)["content"]
        if content == "plain":
            return "Paris is the capital.", []  # a small model answering directly
        if content.startswith("Observation:"):
            return f"Final Answer: saw {content[len('Observation: '):]}", []
        return "Action: t_echo\nAction Input: {text: unquoted}", []

    model.script = script
    with make_app(home, model, ["t_echo"], protocol="react") as zk:
        direct = ask(zk, "plain")
        broken = ask(zk, "echo")
    assert final(direct).answer == "Paris is the capital." and steps(direct) == []
    (step,) = steps(broken)
    assert step.status == "refused" and "not JSON" in (step.error or "") and RUNS == []
    assert final(broken).answer.startswith("saw Refused: the arguments could not be read")


def test_passages_are_numbered_once_for_the_whole_answer(home: Path, model: Model) -> None:
    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        done = tool_results(body)
        if len(done) < 2:
            return "", [call("t_list", {"query": ["tea", "coffee"][len(done)]}, len(done) + 1)]
        return "Tea [2] and coffee [3] [4].", []

    model.script = script
    with make_app(home, model, ["t_list"]) as zk:
        events = ask(zk, "tea and coffee pages")
    first, second = tool_results(model.server.requests[-1])
    assert first.startswith("[1] tea 1") and "\n[2] tea 2" in first
    assert second.startswith("[3] coffee 1") and "\n[4] coffee 2" in second  # the tool's own [1], [2] renumbered
    assert [s.sources for s in steps(events)] == [[1, 2], [3, 4]]
    answer = final(events)
    assert [(c.n, c.file) for c in answer.citations] == [(2, "tea 2"), (3, "coffee 1"), (4, "coffee 2")]
