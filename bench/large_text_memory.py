"""Peak resident memory of ingesting one large text file (issue 20, item 2), with a large file's chunks
written in batches while it is pending (``Ingestor.stage_chunks``, zhiku/ingest/staged.py) and, for
comparison, with one commit of the whole file (``--stage-chunks 0``: the behaviour before batching).

Each run is a fresh process: it ingests a small file first (every library and the embedder loaded),
reads its resident set, ingests the generated text and reads its peak resident set (``ru_maxrss``).
The static embedder is used: the figures are the pipeline's, not a model's.

    python bench/large_text_memory.py --sizes 50 200            # MB; batched and single commit
    python bench/large_text_memory.py --sizes 50 --modes staged
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_PROBE = r"""
import json, resource, sys, time
from pathlib import Path
from zhiku import Zhiku, load_settings

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

home, path, stage = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
app = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"},
                                                "ingest": {"max_file_mb": 1024, "max_unpacked_mb": 2048}},
                          environ={}))
if stage:
    app.ingestor.stage_chunks = stage
else:
    app.ingestor.stage_chunks = 10**12  # never batched: one commit of the whole file
app.create_kb("kb")
warm = home / "warm.md"
warm.write_text("# warm\n\nA small file first: every library and model is loaded. 知识库问答。\n", encoding="utf-8")
app.add_files("kb", [warm])
before = max(rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
t0 = time.monotonic()
report = app.add_files("kb", [path])
seconds = time.monotonic() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
after = rss_mb()
print(json.dumps({"before_mb": round(before), "peak_mb": round(peak), "after_mb": round(after),
                  "chunks": report.chunks, "failed": report.failed, "seconds": round(seconds, 1)}))
"""


def write_text(path: Path, size_mb: int) -> Path:
    """English and Chinese words in ~80-word paragraphs, blank lines between some."""
    rng = random.Random(7)
    words = ("knowledge base answer question upload server memory stream text file chunk index search "
             "vector 知识库 问答 系统 文件 上传 检索").split()
    size = size_mb * 2**20
    with path.open("w", encoding="utf-8") as out:
        written = 0
        while written < size:
            para = " ".join(rng.choice(words) for _ in range(80)) + ".\n" + ("\n" if rng.random() < 0.3 else "")
            out.write(para)
            written += len(para.encode())
    return path


def measure(path: Path, stage: int, work: Path) -> dict:
    home = Path(tempfile.mkdtemp(dir=work))
    out = subprocess.run([sys.executable, "-c", _PROBE, str(home), str(path), str(stage)], capture_output=True,
                         text=True, cwd=ROOT)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 200], help="file sizes in MB")
    ap.add_argument("--modes", nargs="+", default=["staged", "single"], choices=["staged", "single"])
    ap.add_argument("--stage-chunks", type=int, default=0, help="batch size (default: zhiku's)")
    args = ap.parse_args()
    from zhiku.ingest.staged import STAGE_CHUNKS

    stage = args.stage_chunks or STAGE_CHUNKS
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; batches of {stage} chunks")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for size in args.sizes:
            path = write_text(work / f"large-{size}.txt", size)
            for mode in args.modes:
                t0 = time.monotonic()
                got = measure(path, stage if mode == "staged" else 0, work)
                got.update(size_mb=size, mode=mode, wall_s=round(time.monotonic() - t0, 1))
                if "peak_mb" in got:
                    got["growth_mb"] = got["peak_mb"] - got["before_mb"]
                    got["growth_per_mb"] = round(got["growth_mb"] / size, 1)
                print(json.dumps(got), flush=True)


if __name__ == "__main__":
    main()
