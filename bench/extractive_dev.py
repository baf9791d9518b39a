"""Fast iteration on the extractive answerer and the refusal judge (issue 17 items 2 and 3).

Searching is the slow part of bench/quality.py, and the answerer does not change what is found: this
searches each dev set once (hybrid, the hits bench/quality.py answers from), keeps the hits in
``$BENCH_WORK_DIR/extractive-hits/`` and then answers from the kept hits, so a change to the
answerer or to ``relevance`` is measured in seconds. Sets: xquad_zh, xquad_en, drcd_dev,
crud_news_zh (answer_hit), "xquad zh→en" (Chinese questions over the English passages, answered
against the English gold answers of the same question), and the near-miss refusal sets of
bench/quality_hard.py (refused / false refusals at the floor, and the refusal share at the lowest
floor with ≤ 5% false refusals). ``--misses`` dumps each miss: question, gold, answer, candidates.
``--compare [round2|round3]`` answers each set with an earlier answerer and with today's, in the same run;
``--json NAME`` writes the figures and the classified misses to docs/benchmarks/NAME, ``--refusals FILE``
the answerable questions refused with their hits' relevance.

    .venv/bin/python bench/extractive_dev.py [--sample 300] [--misses xquad_zh] [--fresh] [--compare]
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import quality_hard
from common import EVAL, WORK, machine, read_jsonl, write_json

from zhiku import Zhiku, load_settings
from zhiku.evaluation import _contains_answer
from zhiku.llm.extractive import SentenceWeights

# the answerer as committed after the second round of issue 17 (docs/benchmarks.md)
ROUND2 = SentenceWeights(others=0.6, passage_share=0.75, paren=False, subjectless=False, narrow_types=False,
                         idf=0.0, counted=False, clauses=False, reach=1)

# the answerer as committed after the third round (docs/benchmarks.md): the round-four steps off
ROUND3 = SentenceWeights(counted=False, clauses=False, reach=1)
BASELINES = {"round2": ROUND2, "round3": ROUND3}

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


MISS_KINDS = ("refused", "not in the first k hits", "in a hit not quoted from", "split across sentences",
              "in a line dropped as a heading or too thin", "truncated", "spacing", "right passage, wrong sentence",
              "other")


def answer_hits(app: Zhiku, searched: list[tuple[dict[str, Any], list[Any], str]], sample: int,
                misses: bool, kinds: dict[str, list[dict[str, Any]]] | None = None) -> list[bool]:
    """Whether each of the first ``sample`` answerable questions was answered (its gold string quoted);
    each miss, classified (:func:`_miss_kind`), appended to ``kinds`` when given."""
    answerer = app.answers.kb_chat.extractive
    k = max(app.settings.retrieval.top_k, 5)
    got = []
    for q, hits, embedder in [s for s in searched if s[0].get("answers") and not s[0].get("unanswerable")][:sample]:
        answer = answerer.answer(q["question"], hits[:k], embedder)
        ok = _contains_answer(answer.answer, q["answers"], q.get("answer_mode", "any"))
        got.append(ok)
        if ok:
            continue
        kind = _miss_kind(answerer, q, hits[:k], answer)
        if kinds is not None:
            gold = set(q["gold_ids"])
            rank = next((i for i, h in enumerate(hits) if (h.doc_key or h.file) in gold), None)
            kinds.setdefault(kind, []).append({"id": q["id"], "question": q["question"], "answers": q["answers"],
                                               "gold_rank": rank, "best_relevance": answer.best_score,
                                               "index": len(got) - 1})
        if misses:
            gold = set(q["gold_ids"])
            rank = next((i for i, h in enumerate(hits[:k]) if (h.doc_key or h.file) in gold), None)
            print(f"\nQ: {q['question']}  [{kind}] #{len(got) - 1}{' held-out' if len(got) % 2 == 0 else ''}\n  gold: {q['answers']} (gold passage at {rank})\n  A: "
                  f"{answer.answer[:300]!r}")
            if rank is not None:
                g = hits[rank].text
                where = [s for s in _sentences(g) if _holds(s, q["answers"])]
                print(f"  answering sentence: {where[:1]}")
    return got


def _sentences(text: str) -> list[str]:
    from zhiku.text.sentences import split_sentences
    return split_sentences(text)


def _holds(text: str, golds: list[Any], spaceless: bool = False) -> bool:
    from zhiku.text.normalize import normalize_for_match

    t = normalize_for_match(text)
    opts = [normalize_for_match(str(o)) for g in golds for o in (g if isinstance(g, list) else [g]) if o]
    if spaceless:
        t, opts = re.sub(r"\s+", "", t), [re.sub(r"\s+", "", o) for o in opts]
    return any(o in t for o in opts)


def _miss_kind(answerer: Any, q: dict[str, Any], hits: list[Any], answer: Any) -> str:
    """Why the gold string is not in the answer: the first of ``MISS_KINDS`` that applies."""
    from zhiku.llm.extractive import MAX_SENTENCE, _paren_joined
    from zhiku.llm.relevance import _units

    golds = q["answers"]
    if not answer.found:
        return "refused"
    if not any(_holds(h.text, golds) for h in hits):
        return "spacing" if any(_holds(h.text, golds, True) for h in hits) else "not in the first k hits"
    _, _, used = answerer.passages(q["question"], hits)
    holding = [h for h in used if _holds(h.text, golds)]
    if not holding:
        return "in a hit not quoted from"
    units = [u for h in holding for u in _paren_joined(_units(h.text))]
    if not any(_holds(u, golds) for u in units):
        return "split across sentences"
    candidates = [c.text for c in answerer._candidates(holding)]
    if any(_holds(c, golds) for c in candidates):
        return "right passage, wrong sentence"
    if any(_holds(u, golds) and len(u) > MAX_SENTENCE for u in units):
        return "truncated"
    return "in a line dropped as a heading or too thin"


def _false_refusals(app: Zhiku, label: str, searched: list[tuple[dict[str, Any], list[Any], str]],
                    refused: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answerable questions refused, with the relevance of each of their first three hits."""
    from zhiku.llm.extractive import relevance
    from zhiku.text.normalize import detect_lang

    by_id = {q["id"]: (q, hits) for q, hits, _ in searched}
    out = []
    for r in refused:
        q, hits = by_id[r["id"]]
        lang = detect_lang(q["question"])
        gold = set(q["gold_ids"])
        out.append({"set": label, "id": q["id"], "question": q["question"], "answers": q["answers"],
                    "best_relevance": r["best_relevance"], "floor": app.settings.retrieval.relevance_floor,
                    "gold_rank": r["gold_rank"],
                    "top3": [{"doc": h.doc_key or h.file, "gold": (h.doc_key or h.file) in gold,
                              "relevance": round(relevance(lang, h, q["question"]), 4),
                              "dense": h.dense_score, "lexical": h.lexical_score,
                              "holds_answer": _holds(h.text, q["answers"])} for h in hits[:3]]})
    return out


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
    ap.add_argument("--compare", nargs="?", const="round3", choices=sorted(BASELINES),
                    help="also answer with an earlier answerer (default: round3, as committed before round four), "
                         "in the same run")
    ap.add_argument("--fresh", action="store_true", help="search again")
    ap.add_argument("--json", help="write the figures and the classified misses to docs/benchmarks/JSON")
    ap.add_argument("--refusals", help="write the answerable questions refused (JSON lines) to this file")
    ap.add_argument("--crud-passages", type=int, default=500, help="as bench/quality.py's (0: all 2,758)")
    args = ap.parse_args()
    quality_hard.CRUD_PASSAGES = args.crud_passages
    report: dict[str, Any] = {"machine": machine(), "sample": args.sample, "sets": {}}
    refused_out: list[dict[str, Any]] = []
    with Zhiku(load_settings(home=Path(args.home))) as app:
        pool = quality_hard.KBs(app)
        try:
            floor = app.settings.retrieval.relevance_floor
            report["relevance_floor"] = floor
            for label in args.sets:
                rows, qs = _questions(label)
                searched = _searched(app, pool, label, rows, qs, args.fresh)
                if args.compare:
                    app.answers.kb_chat.extractive.weights = BASELINES[args.compare]
                    was = answer_hits(app, searched, args.sample, False)
                    app.answers.kb_chat.extractive.weights = SentenceWeights()
                    print(f"{label}: before {np.mean(was):.3f} (even {np.mean(was[0::2]):.3f}, held-out odd "
                          f"{np.mean(was[1::2]):.3f})", flush=True)
                kinds: dict[str, list[dict[str, Any]]] = {}
                hit = answer_hits(app, searched, args.sample, label in args.misses, kinds)
                rel = refusal(app, searched)
                fr = np.mean([b < floor for a, b in rel if a])
                # tune on the even questions, report the odd ones as held out (docs/benchmarks.md)
                print(f"{label}: answer_hit {np.mean(hit):.3f} (even {np.mean(hit[0::2]):.3f}, held-out odd "
                      f"{np.mean(hit[1::2]):.3f})  false refusals {fr:.3f}", flush=True)
                print("  misses: " + ", ".join(f"{k} {len(kinds[k])}" for k in MISS_KINDS if k in kinds), flush=True)
                report["sets"][label] = {
                    "questions": len(hit), "answer_hit": round(float(np.mean(hit)), 4),
                    "even": round(float(np.mean(hit[0::2])), 4), "odd": round(float(np.mean(hit[1::2])), 4),
                    "misses": {k: len(kinds[k]) for k in MISS_KINDS if k in kinds},
                    "missed": {k: kinds[k] for k in MISS_KINDS if k in kinds}}
                refused_out.extend(_false_refusals(app, label, searched, kinds.get("refused", [])))
            if args.json:
                report["machine_end"] = machine()  # the load at the end too: the start alone misleads
                write_json(args.json, report)
            if args.refusals:
                Path(args.refusals).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in refused_out))
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
