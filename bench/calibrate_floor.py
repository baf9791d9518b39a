"""Calibrate the relevance floor of `ask` on the dev sets with near-miss questions.

For each set, the questions are split in two by their gold passages. The KB gets
every passage except the gold passages of half B, so B's questions become
near-misses (their article's other passages are still there) and A's stay
answerable. The floor is the relevance at which at most 5% of answerable
questions are refused; we report what share of near-misses it refuses.

    python bench/calibrate_floor.py --home /tmp/evalhome [--sets xquad_zh drcd_dev ...]
Writes docs/benchmarks/relevance_floor.json.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

import numpy as np

from zhiku import Zhiku, load_settings
from zhiku.evaluation import load_corpus, read_jsonl
from zhiku.text.normalize import detect_lang
from zhiku.llm.relevance import best_relevance as judged

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "data" / "eval"


def best_relevance(app: Zhiku, kb: str, question: str) -> float:
    hits = app.search([kb], question, top_k=5)
    lang = detect_lang(question)
    return judged(lang, hits, question)  # the rule the answerers use (it was the passage's coverage)


def run_set(app: Zhiku, name: str, limit: int) -> dict:
    corpus = read_jsonl(EVAL / name / "corpus.jsonl", ("id", "text"))
    queries = read_jsonl(EVAL / name / "queries.jsonl", ("question", "gold_ids"))[:limit]
    rng = random.Random(7)
    golds = sorted({g for q in queries for g in q["gold_ids"]})
    rng.shuffle(golds)
    held_out = set(golds[: len(golds) // 2])
    answerable = [q for q in queries if not set(q["gold_ids"]) & held_out]
    near_miss = [q for q in queries if set(q["gold_ids"]) <= held_out]
    kb = f"calib-{name}"
    try:
        app.delete_kb(kb)
    except Exception:
        pass
    app.create_kb(kb)
    with tempfile.TemporaryDirectory() as tmp:
        load_corpus(app, kb, [r for r in corpus if r["id"] not in held_out], Path(tmp), None)
    pos = np.array([best_relevance(app, kb, q["question"]) for q in answerable])
    neg = np.array([best_relevance(app, kb, q["question"]) for q in near_miss])
    app.delete_kb(kb)
    floor = float(np.percentile(pos, 5))
    return {
        "set": name, "answerable": len(pos), "near_miss": len(neg),
        "floor_at_5pct_false_refusals": round(floor, 4),
        "near_miss_refused_at_that_floor": round(float(np.mean(neg < floor)), 4),
        "answerable_median": round(float(np.median(pos)), 4), "near_miss_median": round(float(np.median(neg)), 4),
        "pos": pos.round(4).tolist(), "neg": neg.round(4).tolist(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "zhiku-bench-home"))
    ap.add_argument("--sets", nargs="*", default=["xquad_zh", "xquad_en", "drcd_dev"])
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--floor", type=float, default=None, help="also report refusal rates at this floor")
    args = ap.parse_args()
    out = []
    with Zhiku(load_settings(home=args.home)) as app:
        for name in args.sets:
            r = run_set(app, name, args.limit)
            out.append(r)
            print({k: v for k, v in r.items() if k not in ("pos", "neg")}, flush=True)
    pos = np.concatenate([r["pos"] for r in out])
    neg = np.concatenate([r["neg"] for r in out])
    floor = args.floor if args.floor is not None else float(np.percentile(pos, 5))
    summary = {"floor": round(floor, 4), "false_refusals": round(float(np.mean(pos < floor)), 4),
               "near_miss_refused": round(float(np.mean(neg < floor)), 4)}
    print("pooled:", summary)
    dest = ROOT / "docs" / "benchmarks"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "relevance_floor.json").write_text(json.dumps(
        {"pooled": summary, "sets": [{k: v for k, v in r.items() if k not in ("pos", "neg")} for r in out]},
        indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
