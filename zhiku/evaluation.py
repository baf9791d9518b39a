"""`zhiku eval`: retrieval and answer quality on a JSONL evaluation set.

Corpus lines: ``{"id", "title", "text"}``; query lines: ``{"question", "answers",
"gold_ids"}`` (the format of ../shared/data/eval), or ``{"question", "unanswerable": true}``
for a question the corpus does not answer. The corpus goes into a throw-away KB in the user's
home (so the embedding cache makes reruns fast), each passage keeping its id; rankings are
measured at passage level, over the answerable questions.

Refusals: a question is refused when its best passage's relevance is under
``retrieval.relevance_floor`` (the rule of the extractive answerer and of strict grounding alike).
``refused`` is the share of unanswerable questions refused, ``false_refusals`` the share of
answerable ones.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from zhiku.errors import InvalidInput
from zhiku.ingest.pipeline import IngestProgress, Source

if TYPE_CHECKING:
    from zhiku.app import Zhiku

log = logging.getLogger(__name__)

MODES_ALL = ("hybrid", "dense", "lexical")
KEYS = ("mode", "recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "answer_hit", "refused", "false_refusals",
        "p50_ms", "p95_ms", "passages_not_ingested")


def read_jsonl(path: str | Path, required: Sequence[str]) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"no such file: {p}")
    rows = []
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{p.name} line {n}: not JSON ({exc.msg})") from None
            missing = [k for k in required if k not in row]
            if missing:
                raise InvalidInput(f"{p.name} line {n}: missing {', '.join(missing)}")
            rows.append(row)
    if not rows:
        raise InvalidInput(f"{p.name} is empty")
    return rows


def _doc_ranking(hits: list[Any]) -> list[str]:
    ranking: list[str] = []
    for h in hits:
        key = h.doc_key or h.file
        if key not in ranking:
            ranking.append(key)
    return ranking


def _ndcg(ranking: list[str], gold: set[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranking[:k]) if d in gold)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), k)))
    return dcg / ideal if ideal else 0.0


def _contains_answer(answer: str, golds: Sequence[Any], mode: str = "any") -> bool:
    """``any``: one of the strings appears; ``all``: every element appears (an element may be
    a list of aliases). Matching ignores width, case and Traditional/Simplified differences."""
    from zhiku.text.normalize import normalize_for_match

    text = normalize_for_match(answer)

    def found(g: Any) -> bool:
        options = g if isinstance(g, list) else [g]
        return any(normalize_for_match(str(o)) in text for o in options if o)

    return all(found(g) for g in golds) if mode == "all" else any(found(g) for g in golds)


def load_corpus(app: "Zhiku", kb_name: str, corpus: list[dict[str, Any]], workdir: Path,
                progress: IngestProgress | None) -> list[tuple[str, str]]:
    """Ingest the passages; those that cannot be (each reported to ``progress`` with its reason) are
    returned and left out of the measure, unless none could be."""
    sources = []
    for i, row in enumerate(corpus):
        p = workdir / f"{i:06d}.txt"
        p.write_text(str(row["text"]), encoding="utf-8")
        sources.append(Source(p, f"{row['id']}.txt", doc_key=str(row["id"])))
    report = app.add_sources(kb_name, sources, progress=progress)
    if report.failed and len(report.failed) == len(sources):
        name, why = report.failed[0]
        raise InvalidInput(f"none of the {len(sources)} passages could be ingested, e.g. {name}: {why}")
    for name, why in report.failed:
        log.warning("passage %s not ingested, left out of the evaluation: %s", name, why)
    return report.failed


def evaluate(
    app: "Zhiku", corpus_path: str | Path, queries_path: str | Path, modes: Sequence[str] = ("hybrid",),
    top_k: int = 10, embedder: str | None = None, limit: int | None = None,
    progress: IngestProgress | None = None, keep: bool = False,
) -> list[dict[str, Any]]:
    for m in modes:
        if m not in MODES_ALL:
            raise InvalidInput(f"unknown mode '{m}'; use hybrid, dense, lexical or all")
    corpus = read_jsonl(corpus_path, ("id", "text"))
    queries = check_queries(read_jsonl(queries_path, ("question",))[:limit], Path(queries_path).name)
    kb_name = f"eval-{uuid.uuid4().hex[:8]}"
    app.create_kb(kb_name, description=f"throw-away evaluation KB for {Path(corpus_path).name}", embedder=embedder)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            failed = load_corpus(app, kb_name, corpus, Path(tmp), progress)
        return [{**_measure(app, kb_name, queries, mode, top_k), "passages_not_ingested": len(failed)}
                for mode in modes]
    finally:
        if not keep:
            app.delete_kb(kb_name)


def check_queries(queries: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The queries, each answerable one with gold ids and each unanswerable one without."""
    for n, q in enumerate(queries, 1):
        if q.get("unanswerable"):
            if q.get("gold_ids"):
                raise InvalidInput(f"{name} question {n}: an unanswerable question has no gold_ids")
        elif not q.get("gold_ids"):
            raise InvalidInput(f"{name} question {n}: missing gold_ids (or \"unanswerable\": true)")
    return queries


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _measure(app: "Zhiku", kb_name: str, queries: list[dict[str, Any]], mode: str, top_k: int,
             relevances: list[tuple[bool, float]] | None = None) -> dict[str, Any]:
    """The metrics of one mode; ``relevances`` (when given) receives (answerable, best relevance) per
    question, for a refusal curve over the relevance floor."""
    from zhiku.llm.relevance import best_relevance
    from zhiku.text.normalize import detect_lang

    kb = app.kb(kb_name)
    answerer = app.answers.kb_chat.extractive
    floor = app.settings.retrieval.relevance_floor
    depth = max(top_k, 10)
    app.search([kb_name], "warm up", top_k=1, mode=mode)  # load indexes and models outside the timing
    latencies, r1, r5, r10, mrr, ndcg, hit = [], [], [], [], [], [], []
    refused: list[bool] = []
    false_refusals: list[bool] = []
    for q in queries:
        t0 = time.perf_counter()
        hits = app.retriever.search([kb], q["question"], depth * 3, mode)
        latencies.append((time.perf_counter() - t0) * 1000)
        lang = detect_lang(q["question"])
        best = best_relevance(lang, hits, q["question"])
        if relevances is not None:
            relevances.append((not q.get("unanswerable"), best))
        if q.get("unanswerable"):
            refused.append(best < floor)
            continue
        false_refusals.append(best < floor)
        gold = {str(g) for g in q["gold_ids"]}
        ranking = _doc_ranking(hits)[:depth]
        first = next((i for i, d in enumerate(ranking) if d in gold), None)
        r1.append(first is not None and first < 1)
        r5.append(first is not None and first < 5)
        r10.append(first is not None and first < 10)
        mrr.append(1.0 / (first + 1) if first is not None else 0.0)
        ndcg.append(_ndcg(ranking, gold, 10))
        answers = q.get("answers") or []
        answer_mode = q.get("answer_mode", "any")
        if answers and answer_mode != "label":  # a yes/no label is not a string to find
            answer = answerer.answer(q["question"], hits[: max(app.settings.retrieval.top_k, 5)], kb.embedder)
            hit.append(_contains_answer(answer.answer, answers, answer_mode))
    return {
        "mode": mode,
        "recall@1": _mean(r1),
        "recall@5": _mean(r5),
        "recall@10": _mean(r10),
        "mrr@10": _mean(mrr),
        "ndcg@10": _mean(ndcg),
        "answer_hit": _mean(hit),
        "refused": _mean(refused),
        "false_refusals": _mean(false_refusals),
        "p50_ms": float(np.percentile(latencies, 50)),
        "p95_ms": float(np.percentile(latencies, 95)),
    }
