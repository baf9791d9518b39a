"""Context for the answer (issue 19, item 5): does widening each hit with its neighbouring chunks
(zhiku.chat.context, ``retrieval.context_chars``) help the extractive answerer find the answer?

On every dev set with answer strings (pubmedqa's answers are yes/no labels, not strings to find):
the same hybrid hits answered with no widening and with each budget, answer_hit as `zhiku eval`
counts it (the answer text holds a gold answer). Only the files longer than one chunk can change;
the share of the passages the answerer reads (its first ``answer.passages`` hits) that were widened
is reported too.

Writes docs/benchmarks/context.json. ``--home`` keeps the KBs' embedding cache between runs
(``--seed-cache`` copies cached vectors from another zhiku database first).

``--llm GGUF`` measures the chat model's prompt instead (``answer.prompt_context_chars``): a fixed
sample of ``--sample`` questions per set (every n-th), each answered by that local GGUF model through
llama.cpp (temperature 0) from the same hits with the prompt's sources as found and with their
context (KBChat.messages, within the model's window), one after the other; written under "llm".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality_hard
from common import EVAL, OUT, WORK, machine, read_jsonl
from quality import seed_cache

from zhiku import Zhiku, load_settings
from zhiku.chat.context import ContextWidener
from zhiku.chat.evidence import QueryVectors, weigh
from zhiku.chat.kb import KBChat
from zhiku.evaluation import _contains_answer
from zhiku.llm.base import complete
from zhiku.text.normalize import detect_lang

SETS = ["xquad_zh", "xquad_en", "drcd_dev", "crud_news_zh"]
BUDGETS = [0, 800, 1200, 2000]


def measure(app: Zhiku, name: str, pool: quality_hard.KBs, budgets: list[int]) -> dict[str, Any]:
    corpus = quality_hard.corpus(name)
    qs = [q for q in read_jsonl(EVAL / name / "queries.jsonl")
          if q.get("answers") and q.get("answer_mode") != "label" and not q.get("unanswerable")]
    kb_name = pool.make(corpus, key=name)
    kb = app.kb(kb_name)
    answerer = app.answers.kb_chat.extractive
    top = max(app.settings.retrieval.top_k, 5)
    hits_of = [app.retriever.search([kb], q["question"], 30, "hybrid")[:top] for q in qs]
    out: dict[str, Any] = {"questions": len(qs), "passages": len(corpus), "chunks": kb.chunks}
    for budget in budgets:
        widener = ContextWidener(app.engine, budget)
        hit, widened, total = [], 0, 0
        t0 = time.time()
        for q, hits in zip(qs, hits_of):
            answer = widener.answer_extractively(answerer, q["question"], hits, kb.embedder)
            hit.append(_contains_answer(answer.answer, q["answers"], q.get("answer_mode", "any")))
            wide = widener.widen(hits[:answerer.options.passages])
            widened += sum(w.text != h.text for w, h in zip(wide, hits))
            total += len(wide)
        out[str(budget)] = {"answer_hit": round(sum(hit) / len(hit), 4), "widened_hits": round(widened / max(total, 1), 4),
                            "seconds": round(time.time() - t0, 1)}
        print(name, budget, out[str(budget)], flush=True)
    return out


def measure_llm(app: Zhiku, name: str, pool: quality_hard.KBs, sample: int, budget: int) -> dict[str, Any]:
    corpus = quality_hard.corpus(name)
    qs = [q for q in read_jsonl(EVAL / name / "queries.jsonl")
          if q.get("answers") and q.get("answer_mode") != "label" and not q.get("unanswerable")]
    qs = qs[::max(1, len(qs) // sample)][:sample]  # every n-th: a fixed sample spread over the set
    kb_name = pool.make(corpus, key=name)
    kb = app.kb(kb_name)
    llm = app.chat_models.get(app.settings.llm.default or "")
    s = app.settings
    chats = {"off": KBChat(s.llm, app.answers.kb_chat.extractive, ContextWidener(app.engine, 0)),
             "on": KBChat(s.llm, app.answers.kb_chat.extractive, ContextWidener(app.engine, 0, None, budget, None))}
    out: dict[str, Any] = {"questions": len(qs), "passages": len(corpus), "chunks": kb.chunks, "budget": budget}
    tally: dict[str, dict[str, Any]] = {k: {"hit": 0, "seconds": 0.0, "prompt_chars": 0, "widened": 0} for k in chats}
    for i, q in enumerate(qs):
        hits = app.retriever.search([kb], q["question"], 30, "hybrid")[:s.retrieval.top_k]
        lang = detect_lang(q["question"])
        ev = weigh(q["question"], lang, hits, s.retrieval.relevance_floor, kb.embedder,
                   QueryVectors(q["question"], app.retriever.query_vector))
        for key, chat in chats.items():
            msgs, fitted = chat.messages(llm, ev, [])
            t0 = time.time()
            reply = complete(llm, msgs, temperature=0.0)
            t = tally[key]
            t["seconds"] += time.time() - t0
            t["prompt_chars"] += len(msgs[-1]["content"])
            t["widened"] += sum(not src.endswith(h.text.strip()) for src, h in zip(fitted.sources, hits))
            t["hit"] += _contains_answer(reply.text, q["answers"], q.get("answer_mode", "any"))
        print(name, i + 1, {k: (v["hit"], round(v["seconds"])) for k, v in tally.items()}, flush=True)
    for key, t in tally.items():
        n = max(len(qs), 1)
        out[key] = {"answer_hit": round(t["hit"] / n, 4), "seconds_per_answer": round(t["seconds"] / n, 2),
                    "prompt_chars": round(t["prompt_chars"] / n), "widened_sources": round(t["widened"] / n, 2)}
    print(name, out, flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--home", default=str(WORK / "context-home"))
    ap.add_argument("--seed-cache", help="a zhiku.db whose embedding cache to copy first")
    ap.add_argument("--sets", nargs="+", default=SETS)
    ap.add_argument("--budgets", nargs="+", type=int, default=BUDGETS)
    ap.add_argument("--crud-passages", type=int, default=0)
    ap.add_argument("--llm", help="a GGUF file: measure the chat model's prompt with and without context")
    ap.add_argument("--sample", type=int, default=40, help="--llm: questions per set")
    ap.add_argument("--context-window", type=int, default=2048, help="--llm: the model's window in tokens")
    ap.add_argument("--max-tokens", type=int, default=48, help="--llm: longest reply")
    ap.add_argument("--threads", type=int, default=1, help="--llm: llama.cpp's CPU threads")
    ap.add_argument("--out", default=str(OUT / "context.json"), help="the JSON file to write (merged into)")
    args = ap.parse_args()
    home = Path(args.home)
    if args.seed_cache:
        print(f"seeded {seed_cache(home, Path(args.seed_cache))} cached vectors", flush=True)
    quality_hard.CRUD_PASSAGES = args.crud_passages
    path = Path(args.out)
    data = json.loads(path.read_text()) if path.exists() else {}
    over: dict[str, Any] = {}
    if args.llm:
        over = {"llm": {"detect_local": False, "default": "gguf", "models": {"gguf": {
            "type": "llamacpp", "path": str(Path(args.llm).resolve()), "context_window": args.context_window,
            "max_tokens": args.max_tokens, "temperature": 0.0, "threads": args.threads}}}}
    with Zhiku(load_settings(home=home, overrides=over)) as app:
        pool = quality_hard.KBs(app)
        try:
            for name in args.sets:
                if args.llm:  # the same hits and prompts for both, one answer after the other
                    budget = max(b for b in args.budgets)
                    data.setdefault("llm", {"model": Path(args.llm).name, "context_window": args.context_window,
                                            "max_tokens": args.max_tokens, "threads": args.threads})[name] = \
                        measure_llm(app, name, pool, args.sample, budget)
                else:
                    data[name] = measure(app, name, pool, args.budgets)
                data["machine"] = machine()
                OUT.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        finally:
            pool.close()


if __name__ == "__main__":
    main()
