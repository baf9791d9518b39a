"""Start-up time and memory of `zhiku start` over a synthetic KB, and what the first question costs.

Spawns the real CLI (`zhiku --home H start --port 0`) twice per version: once a search is sent the
moment /api/health answers (time to health and to that answer); once the searches wait until the
server has warmed up (it prints "warmed up" once indexes, jieba, the query model and the search path
are ready, and in versions before the RSS round the lazily mounted UI/MCP too; older versions warmed
up before listening), then the first
search must cost about what the later ones do. Resident memory at health and when idle after them; then
the first page of the web UI and the first MCP call (built on their first request since the RSS round
of issue 18 item 4) and a second of each, and the memory after them.

    python bench/startup.py --sizes 10000
    python bench/startup.py --sizes 100000 --before without:C1,C2   # this tree, and this tree less C1, C2
    python bench/startup.py --sizes 100000 --before REF [--after REF]  # two commits (their schema must open the KB)
    python bench/startup.py --sizes 100000 --before without:C1 --repeat 5  # taking turns, medians of 5 starts each
Writes docs/benchmarks/startup.json.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    WORK,
    build_synthetic_kb,
    eval_questions,
    machine,
    merge_rows,
    pct,
    rss_mb,
    write_json,
)

ZHIKU = Path(sys.executable).with_name("zhiku")


def tree_at(ref: str) -> Path:
    """zhiku's package as of git ``ref`` (git archive, cached), to run the same bench on the code before a change."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], check=True, text=True,
                         stdout=subprocess.PIPE).stdout.strip()
    root = WORK / f"startup-tree-{sha}"
    if not (root / "zhiku").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha, "zhiku"], check=True,
                                 stdout=subprocess.PIPE).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root


def tree_without(commits: list[str]) -> Path:
    """This working tree's zhiku package with what ``commits`` changed in it taken back out: the
    "before" of a change, on the same database schema as the working tree (a bench KB made by a newer
    working tree cannot be opened by an older commit)."""
    import shutil

    root = WORK / f"startup-tree-without-{'-'.join(commits)}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(ROOT / "zhiku", root / "zhiku", ignore=shutil.ignore_patterns("__pycache__"))
    for commit in reversed(commits):
        patch = subprocess.run(["git", "-C", str(ROOT), "show", "--format=", commit, "--", "zhiku"], check=True,
                               stdout=subprocess.PIPE).stdout
        subprocess.run(["git", "apply", "-R", "--directory=", "-"], input=patch, cwd=root, check=True)
    return root


def rss_parts(pid: int) -> dict[str, float]:
    """Resident memory split (Linux): private heap (anonymous) and pages of files (libraries and the
    memory-mapped index files: the kernel's page cache, given back under memory pressure)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = (line.split(":", 1) for line in status)
            kb = {k: int(v.split()[0]) for k, v in fields if k in ("RssAnon", "RssFile")}
    except OSError:
        return {}
    return {"rss_mb_idle_anon": kb["RssAnon"] / 1024, "rss_mb_idle_file": kb["RssFile"] / 1024}


MCP_CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


def first_faces(client: Any) -> dict[str, float]:
    """What a user's first page of the web UI and first MCP call wait for, and a second one (a
    version that builds them lazily pays Streamlit's or the MCP SDK's set-up on the first)."""
    row: dict[str, float] = {}
    calls = {"ui": lambda: client.get("/"),
             "mcp": lambda: client.post("/mcp", json=MCP_CALL,
                                        headers={"accept": "application/json, text/event-stream"})}
    for name, call in calls.items():
        for when in ("first", "second"):
            t1 = time.perf_counter()
            r = call()
            r.raise_for_status()
            row[f"{when}_{name}_ms"] = (time.perf_counter() - t1) * 1000
    return row


def one_start(home: Path, tree: Path | None, questions: list[str], first_at_once: bool) -> dict[str, Any]:
    """Start the server once. ``first_at_once``: the first search goes right when /api/health answers
    (what a user who starts the server and asks at once waits for); else it goes once the server said
    it has warmed up (older versions warm up before they listen), and the later ones follow."""
    import httpx

    env = {**os.environ, "ZHIKU_LOG_LEVEL": "WARNING"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)  # the console script's sys.path[0] is bin/: this tree wins
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(ZHIKU), "--home", str(home), "start", "--port", "0"], env=env, cwd="/",
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    row: dict[str, Any] = {}
    warns = "warm_up_http" in ((tree or ROOT) / "zhiku" / "retrieval" / "warmup.py").read_text()
    try:
        assert proc.stdout is not None
        lines = iter(proc.stdout)
        url = None
        for line in lines:
            m = re.search(r"serving on (http://\S+)", line)
            if m:
                url = m.group(1)
                break
        if url is None:
            raise SystemExit(f"zhiku start exited with {proc.wait()}")
        with httpx.Client(base_url=url, timeout=300, trust_env=False) as client:
            while True:
                try:
                    if client.get("/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
            row["ready_s"] = time.perf_counter() - t0
            row["rss_mb_ready"] = rss_mb(proc.pid)
            if not first_at_once:
                if warns:  # this version warms up after it listens and says when it is done
                    for line in lines:
                        if "warmed up" in line:
                            break
                row["warm_s"] = time.perf_counter() - t0
                time.sleep(1.0)
            lat = []
            for q in questions if not first_at_once else questions[:1]:
                t1 = time.perf_counter()
                r = client.post("/api/search", json={"kbs": ["synthetic"], "query": q})
                r.raise_for_status()
                lat.append((time.perf_counter() - t1) * 1000)
                if first_at_once:
                    row["first_answer_s"] = time.perf_counter() - t0
            row["first_question_ms"] = lat[0]
            if len(lat) > 1:
                row["later_questions_p50_ms"] = pct(lat[1:], 50)
                row["first_over_later"] = lat[0] / pct(lat[1:], 50)
                time.sleep(2.0)
                row["rss_mb_idle"] = rss_mb(proc.pid)
                row.update(rss_parts(proc.pid))
                row.update(first_faces(client))
                row["rss_mb_after_faces"] = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return row


def measure(size: int, before: str | None, after: str | None = None, questions: int = 10,
            repeat: int = 1) -> dict[str, Any]:
    """With ``repeat`` > 1 the versions take turns (before, after, before, after...) and each figure
    is the median of its starts, every start's figures kept under ``runs``: on a loaded machine one
    start varies by seconds."""
    from statistics import median

    home = build_synthetic_kb(size)
    qs = eval_questions(questions + 1)
    row: dict[str, Any] = {"chunks": size}
    after_tree = tree_at(after) if after else None  # default: this working tree
    if before and before.startswith("without:"):
        before_tree = tree_without(before[len("without:"):].split(","))
    else:
        before_tree = tree_at(before) if before else None
    variants = [("before", before_tree), ("after", after_tree)] if before else [("after", after_tree)]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in variants}
    for _ in range(repeat):
        for name, tree in variants:  # each: one start asked at once, one asked after the warm-up
            at_once = one_start(home, tree, qs[-1:], True)
            warm = one_start(home, tree, qs[:-1], False)
            runs[name].append({
                "ready_s": at_once["ready_s"], "first_answer_s": at_once["first_answer_s"],
                "first_answer_ms": at_once["first_question_ms"], "ready_s_second_start": warm["ready_s"],
                **{k: warm[k] for k in ("warm_s", "rss_mb_ready", "rss_mb_idle", "rss_mb_idle_anon",
                                        "rss_mb_idle_file", "first_question_ms", "later_questions_p50_ms",
                                        "first_over_later", "first_ui_ms", "second_ui_ms", "first_mcp_ms",
                                        "second_mcp_ms", "rss_mb_after_faces") if k in warm},
                "loadavg": os.getloadavg()[0]})
    for name, _ in variants:
        part: dict[str, Any] = {k: median(r[k] for r in runs[name]) for k in runs[name][0]}
        if repeat > 1:
            part["starts"] = repeat
            part["runs"] = runs[name]
        if name == "after" and not before:
            row.update(part)
        else:
            row[name] = part
    if before:
        row.update({k: v for k, v in row["after"].items() if k != "runs"})
        row["before_ref"], row["after_ref"] = before, after or "working tree"
    row["machine"] = machine()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10000])
    ap.add_argument("--before", help="a git ref: also start zhiku as of that commit, same run, and compare; "
                                      "or without:C1,C2 for this working tree less what commits C1, C2 changed")
    ap.add_argument("--after", help="a git ref for the 'after' side (default: this working tree)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="start each version this many times, taking turns; figures are medians")
    args = ap.parse_args()
    rows = []
    for size in args.sizes:
        row = measure(size, args.before, args.after, repeat=args.repeat)
        rows.append(row)
        for name in ("before", "after") if args.before else ("after",):
            r = row[name] if args.before else row
            print(f"{size:>7} chunks{' ' + name if args.before else ''}: health in {r['ready_s']:.1f} s, a search "
                  f"sent then answered at {r['first_answer_s']:.1f} s; warm at {r['warm_s']:.1f} s, first search "
                  f"after it {r['first_question_ms']:.0f} ms vs later p50 {r['later_questions_p50_ms']:.0f} ms; "
                  f"RSS {r['rss_mb_ready']:.0f} MB ready, {r['rss_mb_idle']:.0f} MB idle "
                  f"({r['rss_mb_idle_anon']:.0f} private + {r['rss_mb_idle_file']:.0f} file pages); first page "
                  f"{r['first_ui_ms']:.0f} ms (then {r['second_ui_ms']:.0f}), first MCP call {r['first_mcp_ms']:.0f} ms "
                  f"(then {r['second_mcp_ms']:.0f}), RSS after them {r['rss_mb_after_faces']:.0f} MB "
                  f"(load {row['machine']['loadavg'][0]})", flush=True)
    rows = sorted(merge_rows("startup.json", "sizes", "chunks", rows), key=lambda r: r["chunks"])
    write_json("startup.json", {"what": "`zhiku start` on a synthetic KB: time to a healthy server, to the answer of a "
                                        "search sent then, its resident memory, and the first searches over HTTP "
                                        "after the warm-up; with --before, the same for an older commit", "machine": machine(),
                                "sizes": rows})


if __name__ == "__main__":
    main()
