"""Ingesting a large text file costs a bounded multiple of its size in memory (issue 20, item 2: a
199 MB text peaked at 3.5 GB, 18 times its size). The sentences the splitter packs are made block by
block instead of all at once, the loaded document's text is dropped once it is chunked, each distinct
word of the file's lexical tokens is one shared string, and a file of more than ``STAGE_CHUNKS`` chunks
is embedded and written in batches while it is pending (zhiku/ingest/staged.py) instead of holding
every chunk's text, tokens, vector and row until one commit. A 10 MB text now takes about 7 times its
size at the peak (+69 MB), where one commit took 14.5 (+145 MB) and the first version 26 (+260 MB);
bench/large_text_memory.py measures 50 and 200 MB (docs/benchmarks.md).

Measured in a fresh subprocess: peak resident set (``ru_maxrss``) after the ingestion against the
resident set after a small warm-up ingestion, bounded by ``GROWTH_TIMES`` the file's size (one commit
of the whole file, as before the batches, exceeds it). 10 MB rather than more: on a loaded 2-core
machine it already takes about a minute. Nothing is timed."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from zhiku.ingest.staged import STAGE_CHUNKS

GROWTH_TIMES = 10
SIZE = 10 * 1024 * 1024

_PROBE = r"""
import json, resource, sys
from pathlib import Path
from zhiku import Zhiku, load_settings

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024

home, path = Path(sys.argv[1]), Path(sys.argv[2])
app = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}}, environ={}))
app.create_kb("kb")
warm = home / "warm.md"
warm.write_text("# warm\n\nA small file first: every library and model is loaded. 知识库问答。\n", encoding="utf-8")
app.add_files("kb", [warm])
before = max(rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
report = app.add_files("kb", [path])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"before_mb": before, "peak_mb": peak, "chunks": report.chunks, "failed": report.failed}))
"""


def _text(path: Path, size: int) -> Path:
    rng = random.Random(7)
    words = ("knowledge base answer question upload server memory stream text file chunk index search "
             "vector 知识库 问答 系统 文件 上传 检索").split()
    with path.open("w", encoding="utf-8") as out:
        written = 0
        while written < size:
            para = " ".join(rng.choice(words) for _ in range(80)) + ".\n" + ("\n" if rng.random() < 0.3 else "")
            out.write(para)
            written += len(para.encode())
    return path


@pytest.mark.slow  # ingests a 10 MB text (about 20,000 chunks) with the static embedder
def test_a_large_text_costs_a_bounded_multiple_of_its_size(tmp_path: Path) -> None:
    path = _text(tmp_path / "large.txt", SIZE)
    out = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path / "home"), str(path)], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["failed"] == [] and got["chunks"] > 10 * STAGE_CHUNKS  # the batched path, many batches
    assert got["peak_mb"] - got["before_mb"] < GROWTH_TIMES * SIZE / 2**20, got
