"""The harder quality measurements of bench/quality.py (issue 17): several KBs searched at once,
questions the KB cannot answer, and two-part questions.

- ``kbs``: the dev sets as separate KBs. Each question is searched in its own KB alone, in one KB
  holding all the layout's passages (the ceiling: every passage competes), and in all the layout's
  KBs at once: per-KB fusion blended with each passage's own relevance under one lexical weight
  (now, ``fusion.merge_kbs``), each KB fused on its own (before), BM25 normalised per KB then one
  fusion (tried), one fusion over raw BM25 (before issue 17). Layout "four KBs": xquad_zh, xquad_en, drcd_dev, crud_news_zh as four KBs,
  all their 1,058 answerable questions. Layout "one KB 100× larger": xquad_zh split into twenty
  small KBs of 12 passages beside one KB of drcd_dev + xquad_en; the xquad_zh and drcd_dev
  questions.
- ``refusal``: near-miss sets built from the dev sets. A set's gold passages are split in two at
  random (seed 7); the KB holds every passage except the gold passages of half B, so B's questions
  are unanswerable with their article's other passages still there (near misses), and A's stay
  answerable. crud_news_zh adds its own 28 unanswerable questions. The share refused of each kind
  over the relevance floor is the curve; the row at the configured floor is the headline.
- ``multipart``: two crud_news_zh questions about different events joined into one ("Q1？Q2？");
  recall = both gold passages in the top k; answer_hit = both answers in the extractive answer.
"""

from __future__ import annotations

import random
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from common import EVAL, read_jsonl

from zhiku import Zhiku
from zhiku.evaluation import _contains_answer, _measure, load_corpus

SMALL = 20  # small KBs xquad_zh is split into
CRUD_PASSAGES = 0  # 0: all of crud_news_zh; bench/quality.py --crud-passages sets it
FLOORS = [round(0.25 + 0.025 * i, 3) for i in range(19)]  # 0.25 … 0.70


class KBs:
    """Throw-away KBs made once per run, deleted at its end."""

    def __init__(self, app: Zhiku) -> None:
        self.app, self.made = app, []  # type: ignore[var-annotated]
        self.keyed: dict[str, str] = {}

    def make(self, rows: list[dict[str, Any]], key: str | None = None) -> str:
        """A KB of ``rows``; the one made earlier in this run under ``key`` when there is one."""
        if key is not None and key in self.keyed:
            return self.keyed[key]
        name = f"bench-{uuid.uuid4().hex[:8]}"
        if key is not None:
            self.keyed[key] = name
        self.app.create_kb(name, description="throw-away quality benchmark KB")
        self.made.append(name)
        with tempfile.TemporaryDirectory() as tmp:
            load_corpus(self.app, name, rows, Path(tmp), None)
        return name

    def close(self) -> None:
        for name in self.made:
            self.app.delete_kb(name)


def corpus(name: str) -> list[dict[str, Any]]:
    """A set's passages; of crud_news_zh, every gold passage and the first ``CRUD_PASSAGES`` others
    (the corpus is shuffled, so these are a random sample of its distractors) when that is set."""
    rows = read_jsonl(EVAL / name / "corpus.jsonl")
    if name != "crud_news_zh" or not CRUD_PASSAGES:
        return rows
    gold = {g for q in read_jsonl(EVAL / name / "queries.jsonl") for g in q.get("gold_ids") or []}
    keep = {r["id"] for r in rows[:CRUD_PASSAGES]} | gold
    return [r for r in rows if r["id"] in keep]


def _queries(name: str) -> list[dict[str, Any]]:
    return [q for q in read_jsonl(EVAL / name / "queries.jsonl") if not q.get("unanswerable")]


def _recall(app: Zhiku, kbs: list[str], questions: list[tuple[dict[str, Any], str]], mode: str) -> dict[str, float]:
    """R@1 / R@5 at passage level: a hit counts only in the question's own KB (kb, passage id)."""
    handles = [app.kb(k) for k in kbs]
    r1, r5 = [], []
    for q, own in questions:
        hits = app.retriever.search(handles, q["question"], 30, mode)
        ranking: list[tuple[str, str]] = []
        for h in hits:
            key = (h.kb, h.doc_key or h.file)
            if key not in ranking:
                ranking.append(key)
        gold = {(own, str(g)) for g in q["gold_ids"]}
        first = next((i for i, k in enumerate(ranking) if k in gold), None)
        r1.append(first is not None and first < 1)
        r5.append(first is not None and first < 5)
    return {"recall@1": float(np.mean(r1)), "recall@5": float(np.mean(r5)), "questions": len(questions)}


def several_kbs(app: Zhiku, pool: KBs, modes: tuple[str, ...] = ("hybrid",)) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    four = {c: pool.make(corpus(c), key=c) for c in ("xquad_zh", "xquad_en", "drcd_dev", "crud_news_zh")}
    zh = read_jsonl(EVAL / "xquad_zh" / "corpus.jsonl")
    small = [pool.make(zh[i::SMALL]) for i in range(SMALL)]
    big_rows = [{**r, "id": f"{c}/{r['id']}"} for c in ("drcd_dev", "xquad_en") for r in corpus(c)]
    big = pool.make(big_rows)
    home_of = {str(r["id"]): small[i % SMALL] for i, r in enumerate(zh)}
    layouts = [
        ("four KBs", list(four.values()),
         [(q, four[c]) for c in four for q in _queries(c)]),
        ("one KB 100× larger", [*small, big],
         [(q, home_of[str(q["gold_ids"][0])]) for q in _queries("xquad_zh")]
         + [({**q, "gold_ids": [f"drcd_dev/{g}" for g in q["gold_ids"]]}, big) for q in _queries("drcd_dev")]),
    ]
    chunks = {k: len(app.indexes.get(app.kb(k)).vectors) for k in [*small, big]}
    set_of: dict[str, str | None] = {**{v: k for k, v in four.items()}, **{k: "xquad_zh" for k in small}, big: None}
    for label, kbs, questions in layouts:
        for mode in modes:
            by_own: dict[str, list[tuple[dict[str, Any], str]]] = {}
            for q, own in questions:
                by_own.setdefault(own, []).append((q, own))
            alone = [(len(v), _recall(app, [own], v, mode)) for own, v in by_own.items()]
            n = sum(k for k, _ in alone)
            base = {key: sum(k * r[key] for k, r in alone) / n for key in ("recall@1", "recall@5")}
            rows.append({"layout": label, "mode": mode, "search": "own KB alone", **base, "questions": n})
            whole = one_kb(pool, label)
            rows.append({"layout": label, "mode": mode, "search": "one KB holding every passage (ceiling)",
                         **_recall(app, [whole], [(_in_one(q, set_of.get(own)), whole) for q, own in questions], mode)})
            for merge, label_ in (("shared", "all KBs, per-KB fusion + own relevance, one lexical weight (now)"),
                                  ("per_kb", "all KBs, each KB fused on its own (before)"),
                                  ("normalized", "all KBs, BM25 normalised per KB, one fusion (tried)"),
                                  ("raw", "all KBs, raw BM25, one fusion (before issue 17)")):
                app.retriever.merge = merge
                try:
                    rows.append({"layout": label, "mode": mode, "search": label_, **_recall(app, kbs, questions, mode)})
                finally:
                    app.retriever.merge = "shared"
            print(rows[-6:], flush=True)
    small_chunks = float(np.mean([chunks[k] for k in small]))
    for r in rows:
        if r["layout"] == "one KB 100× larger":
            r["chunks"] = f"{SMALL} × {small_chunks:.0f} beside {chunks[big]} ({chunks[big] / small_chunks:.0f}×)"
    return rows


def one_kb(pool: KBs, layout: str) -> str:
    """The layout's passages in one KB (ids prefixed by their set): what searching all at once
    can reach at best, since the questions then compete with every passage of the layout."""
    sets = ("xquad_zh", "xquad_en", "drcd_dev", "crud_news_zh") if layout == "four KBs" else (
        "xquad_zh", "drcd_dev", "xquad_en")
    return pool.make([{**r, "id": f"{c}/{r['id']}"} for c in sets for r in corpus(c)], key=f"one KB: {layout}")


def _in_one(q: dict[str, Any], own_set: str | None) -> dict[str, Any]:
    """A question's gold ids in :func:`one_kb`'s KB (``own_set``: the set its own KB holds; None:
    its ids are prefixed already, as in the 150x layout's large KB)."""
    return q if own_set is None else {**q, "gold_ids": [f"{own_set}/{g}" for g in q["gold_ids"]]}


def _near_miss(name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The set's corpus without the gold passages of half its questions, and its questions with
    those marked unanswerable."""
    rows = read_jsonl(EVAL / name / "corpus.jsonl")
    queries = read_jsonl(EVAL / name / "queries.jsonl")
    golds = sorted({g for q in queries for g in q.get("gold_ids") or []})
    random.Random(7).shuffle(golds)
    held_out = set(golds[: len(golds) // 2])
    out = []
    for q in queries:
        gold = set(q.get("gold_ids") or [])
        if q.get("unanswerable") or (gold and gold <= held_out):
            out.append({**q, "unanswerable": True, "gold_ids": []})
        elif not gold & held_out:
            out.append(q)
    return [r for r in rows if r["id"] not in held_out], out


def refusal(app: Zhiku, pool: KBs, sets: tuple[str, ...] = ("xquad_zh", "xquad_en", "drcd_dev", "crud_news_zh"),
            ) -> dict[str, Any]:
    rows, seen = [], []
    for name in sets:
        if name == "crud_news_zh":  # its own unanswerable questions, against the whole corpus
            kb = pool.make(corpus(name), key=name)
            queries = read_jsonl(EVAL / name / "queries.jsonl")
        else:
            kept, queries = _near_miss(name)
            kb = pool.make(kept)
        rel: list[tuple[bool, float]] = []
        row = _measure(app, kb, queries, "hybrid", 10, rel)
        rows.append({"set": name, "answerable": sum(a for a, _ in rel), "unanswerable": sum(not a for a, _ in rel),
                     **{k: row[k] for k in ("refused", "false_refusals", "answer_hit", "recall@1")}})
        seen.extend(rel)
        print(rows[-1], flush=True)
    pos = np.array([b for a, b in seen if a])
    neg = np.array([b for a, b in seen if not a])
    curve = [{"floor": f, "refused": float(np.mean(neg < f)), "false_refusals": float(np.mean(pos < f))}
             for f in FLOORS]
    return {"floor": app.settings.retrieval.relevance_floor, "sets": rows, "curve": curve}


def multipart(app: Zhiku, pool: KBs, pairs: int = 100) -> list[dict[str, Any]]:
    kb = pool.make(corpus("crud_news_zh"), key="crud_news_zh")
    qs = [q for q in _queries("crud_news_zh") if q.get("answers")]
    rng = random.Random(11)
    joined: list[tuple[dict[str, Any], dict[str, Any]]] = []
    while len(joined) < pairs:
        a, b = rng.sample(qs, 2)
        if a["source_event_id"] == b["source_event_id"] or set(a["gold_ids"]) & set(b["gold_ids"]):
            continue
        joined.append((a, b))
    handle = app.kb(kb)
    answerer = app.answers.kb_chat.extractive
    rows = []
    for split in (False, True):
        app.retriever.split_questions = split
        both: dict[int, list[bool]] = {5: [], 10: []}
        hit = []
        try:
            for a, b in joined:
                question = f"{a['question'].rstrip('？?')}？{b['question']}"
                hits = app.retriever.search([handle], question, 10, "hybrid")
                ranking = list(dict.fromkeys(h.doc_key or h.file for h in hits))
                for k in both:
                    top = set(ranking[:k])
                    both[k].append(bool(top & set(a["gold_ids"])) and bool(top & set(b["gold_ids"])))
                answer = answerer.answer(question, hits[:5], handle.embedder)
                hit.append(_contains_answer(answer.answer, [a["answers"], b["answers"]], "all"))
        finally:
            app.retriever.split_questions = True
        rows.append({"set": "crud_news_zh two-part", "search": "each question on its own (now)" if split
                     else "the whole question (before)", "questions": len(joined),
                     "both@5": float(np.mean(both[5])), "both@10": float(np.mean(both[10])),
                     "answer_hit_both": float(np.mean(hit))})
        print(rows[-1], flush=True)
    return rows

