"""Routing (issue 19, item 3): the dev sets pooled, each set its own KB, every question asked of
"all my KBs" (no KB chosen). Recall at passage level (a hit counts only in the question's own KB)
of the routed answer's passages, against searching the question's own KB directly, in the same
run; also how often the own KB was among the KBs chosen and how many were chosen.

KBs: xquad_zh, xquad_en, drcd_dev, pubmedqa_labeled and crud_news_zh (its gold passages and
``--crud-passages`` others), with a one-line description each as a user would write it (routing
is measured with and without them). Writes docs/benchmarks/routing.json.

    .venv/bin/python bench/routing.py [--home DIR] [--reuse] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import quality_hard
from common import EVAL, OUT, WORK, machine, read_jsonl

from zhiku import Zhiku, load_settings
from zhiku.evaluation import load_corpus
from zhiku.retrieval.routing import Router
from zhiku.schema import Hit, KnowledgeBase

SETS = {
    "xquad_zh": "维基百科中文文章段落（XQuAD）：历史、科学、体育、地理等百科知识",
    "xquad_en": "English Wikipedia paragraphs (XQuAD): history, science, sports, geography",
    "drcd_dev": "台灣維基百科繁體中文段落（DRCD）：人物、地理、歷史、科學",
    "pubmedqa_labeled": "PubMed abstracts of biomedical and clinical research (PubMedQA)",
    "crud_news_zh": "2023年中文新闻报道（CRUD-RAG）：国内外时事、经济、社会、科技新闻",
}


def _ranked(hits: list[Hit]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for h in hits:
        key = (h.kb, h.doc_key or h.file)
        if key not in out:
            out.append(key)
    return out


def _recall(ranking: list[tuple[str, str]], own: str, gold: list[str]) -> tuple[bool, bool]:
    keys = {(own, str(g)) for g in gold}
    first = next((i for i, k in enumerate(ranking) if k in keys), None)
    return first is not None and first < 1, first is not None and first < 5


def measure(app: Zhiku, kbs: dict[str, str], questions: list[tuple[dict[str, Any], str]], limit: int | None,
            ) -> list[dict[str, Any]]:
    handles = {s: app.kb(name) for s, name in kbs.items()}
    everyone = list(handles.values())
    described = {h.name: SETS[s] for s, h in handles.items()}
    routers: list[tuple[str, Callable[[list[KnowledgeBase], str], tuple[list[Hit], list[str]]]]] = []

    def own_alone(_: list[KnowledgeBase], q: str, own: str = "") -> tuple[list[Hit], list[str]]:
        return app.retriever.search([app.kb(own)], q, 10, "hybrid"), [own]

    def all_merged(kbs_: list[KnowledgeBase], q: str, own: str = "") -> tuple[list[Hit], list[str]]:
        return app.retriever.search(kbs_, q, 10, "hybrid"), [k.name for k in kbs_]

    plain, with_desc = Router(app.retriever, lambda kb: ""), Router(app.retriever, lambda kb: described[kb.name])

    def routed(router: Router) -> Callable[..., tuple[list[Hit], list[str]]]:
        def run(kbs_: list[KnowledgeBase], q: str, own: str = "") -> tuple[list[Hit], list[str]]:
            r = router.route(kbs_, q, 10, "hybrid")
            return r.hits, r.names
        return run

    routers = [("own KB alone", own_alone), ("all KBs, merged (no routing)", all_merged),
               ("routed, hits only (no descriptions)", routed(plain)),
               ("routed, hits + descriptions (now)", routed(with_desc))]
    rows = []
    by_set: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for q, s in questions:
        by_set.setdefault(s, []).append((q, s))
    for label, run in routers:
        t0 = time.time()
        per_set: dict[str, dict[str, list[float]]] = {}
        for s, qs in by_set.items():
            acc = per_set.setdefault(s, {"r1": [], "r5": [], "own_chosen": [], "chosen": []})
            for q, _ in qs[:limit]:
                own = kbs[s]
                hits, names = run(everyone, q["question"], own=own)
                r1, r5 = _recall(_ranked(hits), own, q["gold_ids"])
                acc["r1"].append(r1)
                acc["r5"].append(r5)
                acc["own_chosen"].append(own in names)
                acc["chosen"].append(len(names))
        n = sum(len(a["r1"]) for a in per_set.values())
        row = {"search": label, "questions": n, "seconds": round(time.time() - t0, 1),
               **{k: sum(sum(a[v]) for a in per_set.values()) / n for k, v in
                  (("recall@1", "r1"), ("recall@5", "r5"), ("own_kb_chosen", "own_chosen"), ("kbs_chosen", "chosen"))},
               "sets": {s: {"recall@1": sum(a["r1"]) / len(a["r1"]), "recall@5": sum(a["r5"]) / len(a["r5"]),
                            "own_kb_chosen": sum(a["own_chosen"]) / len(a["own_chosen"])}
                        for s, a in per_set.items()}}
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "sets"}, ensure_ascii=False), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--home", default=str(WORK / "quality-home"))
    ap.add_argument("--reuse", action="store_true", help="keep the KBs (named routing-SET) for the next run")
    ap.add_argument("--limit", type=int, help="only the first N questions of each set")
    ap.add_argument("--crud-passages", type=int, default=500)
    args = ap.parse_args()
    if not EVAL.exists():
        raise SystemExit(f"{EVAL} not found: the dev sets live in ../shared/data/eval")
    quality_hard.CRUD_PASSAGES = args.crud_passages
    with Zhiku(load_settings(home=Path(args.home))) as app:
        pool = quality_hard.KBs(app)
        try:
            kbs: dict[str, str] = {}
            have = {kb.name for kb in app.list_kbs()}
            for s in SETS:
                name = f"routing-{s.replace('_', '-')}"
                if not args.reuse:
                    kbs[s] = pool.make(quality_hard.corpus(s))
                    continue
                if name not in have:  # made once, kept for the next run
                    app.create_kb(name, description=SETS[s])
                    with tempfile.TemporaryDirectory() as tmp:
                        load_corpus(app, name, quality_hard.corpus(s), Path(tmp), None)
                kbs[s] = name
            questions = [(q, s) for s in SETS for q in read_jsonl(EVAL / s / "queries.jsonl")
                         if not q.get("unanswerable") and q.get("gold_ids")]
            rows = measure(app, kbs, questions, args.limit)
        finally:
            if not args.reuse:
                pool.close()
    passages = {s: len(quality_hard.corpus(s)) for s in SETS}
    path = OUT / "routing.json"
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine(), "passages": passages, "descriptions": SETS, "rows": rows},
                               indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
