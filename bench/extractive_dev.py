"""Fast iteration on the extractive answerer and the refusal judge (issue 17 items 2 and 3).

Searching is the slow part of bench/quality.py, and the answerer does not change what is found: this
searches each dev set once (hybrid, the hits bench/quality.py answers from), keeps the hits in
``$BENCH_WORK_DIR/extractive-hits/`` and then answers from the kept hits, so a change to the
answerer or to ``relevance`` is measured in seconds. Sets: xquad_zh, xquad_en, drcd_dev,
crud_news_zh (answer_hit), "xquad zh→en" (Chinese questions over the English passages, answered
against the English gold answers of the same question), and the near-miss refusal sets of
bench/quality_hard.py (refused / false refusals at the floor, and the refusal share at the lowest
floor with ≤ 5% false refusals). ``--misses`` dumps each miss: question, gold, answer, candidates.
``--compare`` answers each set with the answerer of before the third round (ROUND2) and with today's.

    .venv/bin/python bench/extractive_dev.py [--sample 300] [--misses xquad_zh] [--fresh] [--compare]
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import quality_hard
from common import EVAL, WORK, read_jsonl

from zhiku import Zhiku, load_settings
from zhiku.evaluation import _contains_answer
from zhiku.llm.extractive import SentenceWeights

# the answerer as committed after the second round of issue 17 (docs/benchmarks.md)
ROUND2 = SentenceWeights(others=0.6, passage_share=0.75, paren=False, subjectless=False, narrow_types=False,
                         idf=0.0)

SETS = ["xquad_zh", "xquad_en", "drcd_dev", "crud_news_zh", "xquad zh→en"]
REFUSAL = ["xquad_zh", "xquad_en", "drcd_dev", "crud_news_zh"]
CACHE = WORK / "extractive-hits"


def _questions(label: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(corpus rows, questions) of an answer set."""
    if label == "xquad zh→en":
        english = {q["source_qid"]: q for q in read_jsonl(EVAL / "xquad_en" / "queries.jsonl")}
        qs = [{**q, "answers": english[q["source_qid"]]["answers"]}
              for q in read_jsonl(EVAL / "xquad_zh" / "queries.jsonl") if q.get("source_qid") in english]
        return quality_hard.corpus("xquad_en"), qs
    return quality_hard.corpus(label), read_jsonl(EVAL / label / "queries.jsonl")


def _searched(app: Zhiku, pool: quality_hard.KBs, key: str, rows: list[dict[str, Any]],
              qs: list[dict[str, Any]], fresh: bool) -> list[tuple[dict[str, Any], list[Any], str]]:
    path = CACHE / f"{key}.pkl"
    if path.exists() and not fresh:
        return pickle.loads(path.read_bytes())  # noqa: S301 - our own file
    kb = app.kb(pool.make(rows))
    out = [(q, app.retriever.search([kb], q["question"], 30, "hybrid"), kb.embedder) for q in qs]
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def answer_hits(app: Zhiku, searched: list[tuple[dict[str, Any], list[Any], str]], sample: int,
                misses: bool) -> list[bool]:
    """Whether each of the first ``sample`` answerable questions was answered (its gold string quoted)."""
    answerer = app.answers.kb_chat.extractive
    k = max(app.settings.retrieval.top_k, 5)
    got = []
    for q, hits, embedder in [s for s in searched if s[0].get("answers") and not s[0].get("unanswerable")][:sample]:
        answer = answerer.answer(q["question"], hits[:k], embedder)
        ok = _contains_answer(answer.answer, q["answers"], q.get("answer_mode", "any"))
        got.append(ok)
        if misses and not ok:
            gold = set(q["gold_ids"])
            rank = next((i for i, h in enumerate(hits[:k]) if (h.doc_key or h.file) in gold), None)
            print(f"\nQ: {q['question']}\n  gold: {q['answers']} (gold passage at {rank})\n  A: "
                  f"{answer.answer[:300]!r}")
            if rank is not None:
                g = hits[rank].text
                where = [s for s in _sentences(g) if any(a in s for a in q["answers"])]
                print(f"  answering sentence: {where[:1]}")
    return got


def _sentences(text: str) -> list[str]:
    from zhiku.text.sentences import split_sentences
    return split_sentences(text)


def refusal(app: Zhiku, searched: list[tuple[dict[str, Any], list[Any], str]]) -> list[tuple[bool, float]]:
    from zhiku.llm.extractive import relevance
    from zhiku.text.normalize import detect_lang
    out = []
    for q, hits, _ in searched:
        lang = detect_lang(q["question"])
        best = max((relevance(lang, h, q["question"]) for h in hits[:3]), default=0.0)
        out.append((not q.get("unanswerable"), best))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sample", type=int, default=300)
    ap.add_argument("--home", default=str(WORK / "extractive-home"))
    ap.add_argument("--sets", nargs="+", default=SETS)
    ap.add_argument("--misses", nargs="*", default=[])
    ap.add_argument("--no-refusal", action="store_true")
    ap.add_argument("--compare", action="store_true", help="also answer with ROUND2, in the same run")
    ap.add_argument("--fresh", action="store_true", help="search again")
    ap.add_argument("--crud-passages", type=int, default=500, help="as bench/quality.py's (0: all 2,758)")
    args = ap.parse_args()
    quality_hard.CRUD_PASSAGES = args.crud_passages
    with Zhiku(load_settings(home=Path(args.home))) as app:
        pool = quality_hard.KBs(app)
        try:
            floor = app.settings.retrieval.relevance_floor
            for label in args.sets:
                rows, qs = _questions(label)
                searched = _searched(app, pool, label, rows, qs, args.fresh)
                if args.compare:
                    app.answers.kb_chat.extractive.weights = ROUND2
                    was = answer_hits(app, searched, args.sample, False)
                    app.answers.kb_chat.extractive.weights = SentenceWeights()
                    print(f"{label}: before {np.mean(was):.3f} (even {np.mean(was[0::2]):.3f}, held-out odd "
                          f"{np.mean(was[1::2]):.3f})", flush=True)
                hit = answer_hits(app, searched, args.sample, label in args.misses)
                rel = refusal(app, searched)
                fr = np.mean([b < floor for a, b in rel if a])
                # tune on the even questions, report the odd ones as held out (docs/benchmarks.md)
                print(f"{label}: answer_hit {np.mean(hit):.3f} (even {np.mean(hit[0::2]):.3f}, held-out odd "
                      f"{np.mean(hit[1::2]):.3f})  false refusals {fr:.3f}", flush=True)
            if args.no_refusal:
                return
            seen: list[tuple[bool, float]] = []
            for name in REFUSAL:
                if name == "crud_news_zh":
                    rows, qs = quality_hard.corpus(name), read_jsonl(EVAL / name / "queries.jsonl")
                else:
                    rows, qs = quality_hard._near_miss(name)
                rel = refusal(app, _searched(app, pool, f"near-miss {name}", rows, qs, args.fresh))
                seen.extend(rel)
                pos = np.array([b for a, b in rel if a])
                neg = np.array([b for a, b in rel if not a])
                print(f"near-miss {name}: refused {np.mean(neg < floor):.3f} false {np.mean(pos < floor):.3f}"
                      f"  (at ≤5% false: {_at5(pos, neg):.3f})", flush=True)
            pos = np.array([b for a, b in seen if a])
            neg = np.array([b for a, b in seen if not a])
            print(f"all near-miss: refused {np.mean(neg < floor):.3f} false {np.mean(pos < floor):.3f}"
                  f"  (at ≤5% false: {_at5(pos, neg):.3f})", flush=True)
        finally:
            pool.close()


def _at5(pos: np.ndarray, neg: np.ndarray) -> float:
    """The share of unanswerable questions refused at the highest floor with ≤ 5% false refusals."""
    floor = float(np.quantile(pos, 0.05)) if len(pos) else 0.0
    return float(np.mean(neg < floor))


if __name__ == "__main__":
    main()
