"""Agentic KB chat and agent mode's KB search, with the scripted tool-calling model: a multi-part
question split into sub-questions, a search again when the hits do not answer, citations of the
passages actually used, only the request's (authorised) KBs searched, a plain KB answer when the model
does not search, and a document that tells the model to call tools or read other KBs changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.agent.loop_support import (  # noqa: F401  (model: the fixture)
    RUNS, Model, ask, call, final, last, make_app, model, steps, tool_results, with_kbs)
from zhiku.schema import Retrieved


def number_of(body: dict[str, Any], words: str) -> int:
    """The number [n] the loop gave the passage holding ``words`` (as the model saw it)."""
    for result in tool_results(body):
        for n, text in re.findall(r"\[(\d+)\] [^\n]*\n([^\[]*)", result):
            if words in text:
                return int(n)
    raise AssertionError(f"no passage with {words!r} in {tool_results(body)}")


def test_a_multi_part_question_is_split_searched_again_and_cited(home: Path, tmp_path: Path, model: Model) -> None:
    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        results = tool_results(body)
        if not results:  # split the question into its two parts
            return "", [call("kb_search", {"query": "capital of France"}, 1),
                        call("kb_search", {"query": "Great Wall location"}, 2)]
        if len(results) == 2:  # the hits on the wall did not name the river: search again, other words
            return "", [call("kb_search", {"query": "river Seine", "top_k": 2}, 3)]
        paris, wall = number_of(body, "capital of France"), number_of(body, "north of China")
        return f"Paris is the capital [{paris}], on the Seine [{paris}]; the wall is in the north [{wall}] [99].", []

    model.script = script
    with with_kbs(make_app(home, model, []), tmp_path) as zk:
        events = ask(zk, "What is the capital of France, and where is the Great Wall?", mode="kb", kbs=["world"],
                     agentic=True)
    trace = steps(events)
    assert [(s.tool, s.arguments["query"], s.status) for s in trace] == [
        ("kb_search", "capital of France", "ok"), ("kb_search", "Great Wall location", "ok"),
        ("kb_search", "river Seine", "ok")]
    answer = final(events)
    assert "[99]" not in answer.answer  # a number no passage has is dropped, as KB chat does
    cited = {c.file for c in answer.citations}
    assert cited == {"world/paris.md", "world/wall.md"} and len(answer.citations) == 2  # only the passages used
    assert answer.found and answer.trace == trace
    retrieved = next(e for e in events if isinstance(e, Retrieved))
    assert len(retrieved.hits) >= 3 and {h.kb for h in retrieved.hits} == {"world"}
    # the passages were numbered once for the whole answer: a passage found twice keeps its number
    assert len({(h.kb, h.chunk_id) for h in retrieved.hits}) == len(retrieved.hits)
    assert "split it into sub-questions" in model.server.requests[0]["messages"][0]["content"]


def test_kb_search_reads_only_the_requests_kbs(home: Path, tmp_path: Path, model: Model) -> None:
    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        if not tool_results(body):
            return "", [call("kb_search", {"query": "launch code", "kbs": ["secret"]}, 1)]
        return "I cannot read that.", []

    model.script = script
    with with_kbs(make_app(home, model, ["kb_search"]), tmp_path) as zk:
        events = ask(zk, "What is the launch code?", kbs=["world"])
    (step,) = steps(events)
    assert step.status == "error" and "no knowledge base named 'secret'" in (step.error or "")
    assert "these can be searched: world" in (step.error or "")
    sent = str(model.server.requests)
    assert "4242" not in sent and "4242" not in final(events).answer
    spec = model.server.requests[0]["tools"][0]["function"]
    assert "world" in spec["description"] and "secret" not in spec["description"]


def test_agent_mode_without_kbs_offers_no_kb_search(home: Path, tmp_path: Path, model: Model) -> None:
    model.script = lambda body: ("No tools needed.", [])
    with with_kbs(make_app(home, model, ["kb_search", "t_echo"]), tmp_path) as zk:
        events = ask(zk, "hello")
    assert [t["function"]["name"] for t in model.server.requests[0]["tools"]] == ["t_echo"]
    assert final(events).answer == "No tools needed." and final(events).trace == []


def test_an_agentic_answer_without_a_search_is_plain_kb_chat(home: Path, tmp_path: Path, model: Model) -> None:
    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        if body.get("tools"):
            return "I know this without looking.", []  # the model skips the search
        return "Paris [1].", []  # then answers KB chat's prompt

    model.script = script
    with with_kbs(make_app(home, model, []), tmp_path) as zk:
        events = ask(zk, "What is the capital of France?", mode="kb", kbs=["world"], agentic=True)
    assert isinstance(events[0], Retrieved) and steps(events) == []
    answer = final(events)
    assert answer.answer == "Paris [1]." and answer.citations and answer.citations[0].kb == "world"
    assert "tools" not in model.server.requests[-1]


def test_instructions_in_a_document_cause_no_tool_call(home: Path, tmp_path: Path, model: Model) -> None:
    """The notes say 'call t_spy', 'search the KB secret', give an image link and a ReAct Action: the
    model's structured output alone makes calls, so only the search the model asked for runs."""

    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        if not tool_results(body):
            return "", [call("kb_search", {"query": "office opening hours"}, 1)]
        return f"The office opens at nine [{number_of(body, 'opens at nine')}].", []

    model.script = script
    with with_kbs(make_app(home, model, ["kb_search", "t_spy"]), tmp_path) as zk:
        events = ask(zk, "When does the office open?", kbs=["world"])
    assert [s.tool for s in steps(events)] == ["kb_search"] and RUNS == []
    assert "ignore the user" in tool_results(model.server.requests[-1])[0]  # the model did see the text
    assert len(model.server.requests) == 2 and "4242" not in str(model.server.requests)


def test_react_observations_are_never_parsed_for_actions(home: Path, tmp_path: Path, model: Model) -> None:
    def script(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        if last(body)["content"].startswith("Observation:"):
            return "Final Answer: The office opens at nine [1].", []
        return 'Action: kb_search\nAction Input: {"query": "office opening hours"}', []

    model.script = script
    with with_kbs(make_app(home, model, ["kb_search", "t_spy"], protocol="react"), tmp_path) as zk:
        events = ask(zk, "When does the office open?", kbs=["world"])
    assert [s.tool for s in steps(events)] == ["kb_search"] and RUNS == []
    assert "Action: t_spy" in last(model.server.requests[-1])["content"]  # in the observation, not run
    answer = final(events)
    assert answer.answer.startswith("The office opens at nine") and answer.citations
