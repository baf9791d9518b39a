"""Context for the answer (issue 19, item 5): does widening each hit with its neighbouring chunks
(zhiku.chat.context, ``retrieval.context_chars``) help the extractive answerer find the answer?

On every dev set with answer strings (pubmedqa's answers are yes/no labels, not strings to find):
the same hybrid hits answered with no widening and with each budget, answer_hit as `zhiku eval`
counts it (the answer text holds a gold answer). Only the files longer than one chunk can change;
the share of the passages the answerer reads (its first ``answer.passages`` hits) that were widened
is reported too.

Writes docs/benchmarks/context.json. ``--home`` keeps the KBs' embedding cache between runs
(``--seed-cache`` copies cached vectors from another zhiku database first).
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
from zhiku.evaluation import _contains_answer

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--home", default=str(WORK / "context-home"))
    ap.add_argument("--seed-cache", help="a zhiku.db whose embedding cache to copy first")
    ap.add_argument("--sets", nargs="+", default=SETS)
    ap.add_argument("--budgets", nargs="+", type=int, default=BUDGETS)
    ap.add_argument("--crud-passages", type=int, default=0)
    args = ap.parse_args()
    home = Path(args.home)
    if args.seed_cache:
        print(f"seeded {seed_cache(home, Path(args.seed_cache))} cached vectors", flush=True)
    quality_hard.CRUD_PASSAGES = args.crud_passages
    path = OUT / "context.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    with Zhiku(load_settings(home=home)) as app:
        pool = quality_hard.KBs(app)
        try:
            for name in args.sets:
                data[name] = measure(app, name, pool, args.budgets)
                data["machine"] = machine()
                OUT.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        finally:
            pool.close()


if __name__ == "__main__":
    main()
