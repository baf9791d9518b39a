"""Time and resident memory to open a KB's search indexes (the part of `zhiku start` that grows with
the KB), in a fresh process each run so nothing is cached in Python (FAISS, SciPy and the index
modules are imported before the timing); the files are in the page cache
(read once before), as after any earlier start. Run it with another checkout first on PYTHONPATH to
compare versions (docs/benchmarks.md: before/after memory-mapping the indexes).

    python bench/index_load.py --size 100000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import build_synthetic_kb, machine  # noqa: E402

CHILD = """
import json, sys, time, psutil
from pathlib import Path
import faiss, scipy.sparse  # imported before the timing: this measures reading the files
from zhiku.store.lexical import BM25Index
from zhiku.store.vectors import FaissVectorIndex
d = Path(sys.argv[1])
proc = psutil.Process()
out = {}
for name, load in (("vectors", lambda: FaissVectorIndex.load(d / "vectors.faiss", 384)),
                   ("lexical", lambda: BM25Index.load(d / "lexical"))):
    rss0, t0 = proc.memory_info().rss, time.perf_counter()
    index = load()
    out[name + "_open_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    out[name + "_rss_added_mb"] = round((proc.memory_info().rss - rss0) / 2**20, 1)
    out[name] = index
import numpy as np
q = np.random.default_rng(0).standard_normal(384).astype(np.float32)
t0 = time.perf_counter()
out["vectors"].search(q / np.linalg.norm(q), 10)
out["first_dense_ms"] = round((time.perf_counter() - t0) * 1000, 1)
t0 = time.perf_counter()
out["vectors"].search(q / np.linalg.norm(q), 10)
out["second_dense_ms"] = round((time.perf_counter() - t0) * 1000, 1)
out["chunks"] = len(out.pop("vectors"))
out.pop("lexical")
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    home = build_synthetic_kb(args.size)
    for f in (home / "indexes").rglob("*"):  # into the page cache
        if f.is_file():
            f.read_bytes()
    directory = next(p for p in (home / "indexes").iterdir() if (p / "vectors.faiss").exists())
    rows = [json.loads(subprocess.run([sys.executable, "-c", CHILD, str(directory)], capture_output=True, text=True, cwd="/",
                                      check=True).stdout.strip().splitlines()[-1]) for _ in range(args.runs)]
    print(json.dumps({"runs": rows, "machine": machine()}, ensure_ascii=False))


if __name__ == "__main__":
    main()
