"""One kb_search (zhiku.agent.tools.kb) for agentic KB chat, agent mode, the tool routes and MCP's
neighbours: the same tool wherever it is made, saying when its best hits look weakly related by the
answerers' own refusal rule (relevance of the query and the passage, under retrieval.relevance_floor)."""

from __future__ import annotations

from pathlib import Path

from tests.agent.loop_support import (  # noqa: F401  (model: the fixture)
    Model, ask, call, make_app, model, steps, tool_results, with_kbs)
from zhiku.agent.tools.kb import KBSearch
from zhiku.llm.extractive import relevance
from zhiku.text.normalize import detect_lang


def test_one_kb_search_for_every_caller(home: Path, tmp_path: Path, model: Model) -> None:
    model.script = lambda body: ("", [call("kb_search", {"query": "capital of France"}, 1)]) \
        if not tool_results(body) else ("Paris [1].", [])
    with with_kbs(make_app(home, model, ["kb_search"]), tmp_path) as zk:
        agent = zk.answers.agent_chat
        (listed,) = [t for t in agent.available("local", ["world"]) if t.spec.name == "kb_search"]
        assert isinstance(listed, KBSearch)
        ask(zk, "What is the capital of France?", mode="kb", kbs=["world"], agentic=True)
        offered = model.server.requests[0]["tools"][0]["function"]
        assert offered == listed.spec.openai()["function"]  # agentic KB chat offers the very same tool


def test_weak_hits_are_judged_by_the_answerers_rule_with_the_query(home: Path, tmp_path: Path,
                                                                     model: Model) -> None:
    with with_kbs(make_app(home, model, ["kb_search"]), tmp_path) as zk:
        agent = zk.answers.agent_chat
        floor = zk.settings.retrieval.relevance_floor
        for query in ("What is the capital of France?", "quantum chromodynamics on a lattice"):
            step, result = agent.call("local", ["world"], "kb_search", {"query": query, "top_k": 3})
            assert step.status == "ok" and result is not None
            best = max(relevance(detect_lang(query), h, query) for h in result.sources[:3])
            assert result.data["best_relevance"] == round(best, 4)
            weak = best < floor
            assert result.data["weak"] is weak and ("weakly related" in result.text) is weak
            assert (step.summary or "").endswith("(weak)") is weak
            if query.startswith("What"):
                assert not weak and "capital of France" in result.sources[0].text
            else:
                assert weak
