"""Crash-consistency runs: SIGKILL the CLI or the server at a random moment of ingestion, deletion or
re-indexing, then check the knowledge base (tests/test_crash_consistency.py runs a few,
scripts/reliability.py over a hundred).

One home is used for all runs of a series, so each run starts from what the kills before it left.
After each kill the checks open the home as the next `zhiku` would (which removes files whose
ingestion was interrupted) and require: every file indexed or failed; each indexed file's chunk
count is its chunks' and the KB's count is the sum; a search finds nothing of a file that is not
indexed; the KB's check (what `zhiku kb check` runs) reports no problem — and at the end of a series
the CLI's `zhiku kb check`, in its own process, says the same.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from zhiku import Zhiku, load_settings

ENV = {"ZHIKU_EMBEDDING__DEFAULT": "static"}
OPS = ("add", "add-force", "remove", "rebuild", "server-upload", "server-delete")
DOCS = 30


@dataclass
class Run:
    op: str
    delay_s: float
    killed: bool  # False: it had finished before the kill
    problems: list[str] = field(default_factory=list)


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}, **ENV}


def zhiku_cli(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(home), *args], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def write_docs(folder: Path, generation: int) -> None:
    """DOCS Markdown files; ``generation`` changes their text (so an add replaces them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(DOCS):
        paras = "\n\n".join(f"第{i}号文档第{j}段（第{generation}版）：项目{i}的预算是{i * 100 + j}元，负责人张{j}。"
                            f"Document {i} part {j} revision {generation} covers budget line {i * 100 + j}." * 4
                            for j in range(8))
        (folder / f"doc{i:02d}.md").write_text(f"# 文档 {i}\n\n{paras}\n", encoding="utf-8")


def prepare(root: Path) -> tuple[Path, Path]:
    home, docs = root / "home", root / "docs"
    write_docs(docs, 0)
    with Zhiku(load_settings(home=home, environ={}, overrides={"embedding": {"default": "static"}})) as zk:
        zk.create_kb("kb")
        zk.add_files("kb", sorted(docs.glob("*.md"))[: DOCS // 2])
    return home, docs


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_op(home: Path, docs: Path, op: str, rng: random.Random) -> tuple[subprocess.Popen[str], Any]:
    """Start `zhiku start` and, once it answers, send it an upload or deletes; kill comes later."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(home), "start", "--host", "127.0.0.1",
                             "--port", str(port)], env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    deadline = time.monotonic() + 120
    while True:
        try:
            if client.get("/api/health").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("zhiku start did not come up")
        time.sleep(0.2)
    if op == "server-upload":
        names = rng.sample(sorted(p.name for p in docs.glob("*.md")), 12)
        client.post("/api/kbs/kb/files", files=[("files", (f"docs/{n}", (docs / n).read_bytes())) for n in names])
    else:
        for f in client.get("/api/kbs/kb/files").json()[:8]:
            client.delete(f"/api/kbs/kb/files/{f['id']}")
    return proc, client


def one_run(home: Path, docs: Path, op: str, rng: random.Random, generation: int, scale: float = 1.0) -> Run:
    """``op`` in a process of its own, SIGKILLed after a random delay (times ``scale``) unless it ended."""
    if op == "add-force":
        write_docs(docs, generation)  # new text: every file is replaced
    client = None
    if op.startswith("server-"):
        proc, client = _server_op(home, docs, op, rng)
        delay = rng.uniform(0.0, 2.5)
    else:
        args = {"add": ["kb", "add", "kb", str(docs)], "add-force": ["kb", "add", "--force", "kb", str(docs)],
                "remove": ["kb", "remove", "-y", "kb", f"docs/doc{rng.randrange(3)}*"],
                "rebuild": ["kb", "rebuild", "kb"]}[op]
        proc = zhiku_cli(home, *args)
        # the ranges end where an idle 2-core machine has finished the operation (a fresh-clone run cut only
        # 4 of 10 with the longer ranges tuned under load; a loaded machine is still cut mid-way)
        delay = rng.uniform(0.5, {"add": 3.0, "add-force": 3.5, "remove": 2.0, "rebuild": 2.5}[op])
    delay *= scale
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    if client is not None:
        client.close()
    run = Run(op, delay, killed)
    run.problems = verify(home)
    return run


def verify(home: Path) -> list[str]:
    """What is wrong with the KB now (empty: nothing)."""
    problems: list[str] = []
    with Zhiku(load_settings(home=home, environ={}, overrides={"embedding": {"default": "static"}})) as zk:
        files = zk.list_files("kb")
        problems += [f"{f.name} is {f.status}" for f in files if f.status not in ("indexed", "failed")]
        indexed = {f.name for f in files if f.status == "indexed"}
        for f in files:
            if f.status == "indexed":
                _, chunks = zk.file_chunks("kb", f.name)
                if len(chunks) != f.chunks or not chunks:
                    problems.append(f"{f.name}: {len(chunks)} chunks, its record says {f.chunks}")
        total = zk.kb("kb").chunks
        if total != sum(f.chunks for f in files if f.status == "indexed"):
            problems.append(f"the KB counts {total} chunks, its files {sum(f.chunks for f in files)}")
        for query, mode in (("项目1的预算", "hybrid"), ("budget line revision", "lexical"), ("负责人", "dense")):
            stray = {h.file for h in zk.search(["kb"], query, top_k=50, mode=mode)} - indexed
            problems += [f"search ({mode}) finds {name}, which is not indexed" for name in sorted(stray)]
        problems += [f"kb check: {p}" for p in zk.check("kb")]  # what `zhiku kb check` reports
    return problems


def cli_check(home: Path) -> list[str]:
    """`zhiku kb check kb` in its own process: its problem lines (empty: consistent)."""
    check = zhiku_cli(home, "kb", "check", "kb")
    _, err = check.communicate(timeout=300)
    if check.returncode == 0:
        return []
    return [line for line in err.splitlines() if line.strip()] or [f"kb check exited {check.returncode}"]


def series(root: Path, runs: int, seed: int, ops: tuple[str, ...] = OPS, min_killed: int = 0,
           max_runs: int = 30) -> list[Run]:
    """``runs`` runs, every op once first; then, while fewer than ``min_killed`` were cut before they ended,
    more runs with the delays shortened each time (up to ``max_runs``): on a fast idle machine many
    operations end before a delay tuned for a slower one, and a run that was not cut proves little."""
    rng = random.Random(seed)
    home, docs = prepare(root)
    out: list[Run] = []
    scale = 1.0
    while len(out) < runs or (sum(r.killed for r in out) < min_killed and len(out) < max_runs):
        i = len(out)
        if i >= runs:
            scale *= 0.75
        out.append(one_run(home, docs, ops[i % len(ops)] if i < len(ops) else rng.choice(ops), rng, i + 1, scale))
    return out
