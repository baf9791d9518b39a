"""Regenerate docs/reliability.md's figures: run the hardening suites and measure what hostile input costs.

    .venv/bin/python scripts/reliability.py            # writes docs/reliability.md between its markers
    .venv/bin/python scripts/reliability.py --print    # prints the generated part only

What it does, on this machine:

1. runs ``pytest tests/hardening`` (slow tests included) and counts the cases of each suite;
2. writes a decompression bomb of each format (about 1 MB unpacking to 1 GB) and loads it in a fresh
   subprocess: the per-file error and the growth of the peak resident memory;
3. ingests a 10 MB and a 40 MB text in fresh subprocesses: the growth of the peak resident memory;
4. kills the CLI and the server with SIGKILL at random moments of ingestion, deletion and re-indexing
   (``--crash-runs``, 120 by default) and checks the KB after each (tests/hardening/crash.py);
5. runs three rounds of 50 concurrent uploads, deletes and searches and of 20 uploads of one name
   over a real server with four ingestion workers (tests/hardening/test_concurrency.py);
6. fuzzes the OpenAPI schema, Chatchat routes included, with ``--fuzz-examples`` cases per operation
   and mode (30 by default; tests/hardening/fuzz.py);
7. sends every SSRF spelling through the guarded fetcher and every path-traversal payload through
   every route variant, counting them (the suites themselves ran in step 1).

    .venv/bin/python scripts/reliability.py --crash-runs 10 --fuzz-examples 3   # a quick look
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hardening import bombs, crash  # noqa: E402
from tests.hardening import test_concurrency as concurrency  # noqa: E402
from tests.hardening.canary import HttpStub, PUBLIC_HOST, Resolver, spellings  # noqa: E402
from tests.hardening.fuzz import SKIPPED as FUZZ_SKIPPED, fuzz  # noqa: E402
from tests.hardening.traversal import payloads, variants  # noqa: E402
from tests.hardening.test_decompression_bombs import _PROBE as BOMB_PROBE  # noqa: E402
from tests.hardening.test_large_text_memory import _PROBE as TEXT_PROBE, _text  # noqa: E402

DOC = REPO / "docs" / "reliability.md"
BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"


SUITES = ["tests/hardening", "tests/test_crash_consistency.py", "tests/api/test_route_authorization.py",
          "tests/api/test_scopes.py", "tests/websearch/test_guard.py", "tests/mcp/test_http.py"]


def _run_suites(work: Path) -> list[tuple[str, int, int, int]]:
    xml = work / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--basetemp={work / 'pt'}",
                    f"--junitxml={xml}", *SUITES], cwd=REPO, check=False, capture_output=True)
    suites: dict[str, list[int]] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        name = case.get("classname", "").rsplit(".", 1)[-1]
        row = suites.setdefault(name, [0, 0, 0])
        row[0] += 1
        if case.find("failure") is not None or case.find("error") is not None:
            row[2] += 1
        elif case.find("skipped") is None:
            row[1] += 1
    return [(k, *v) for k, v in sorted(suites.items())]  # type: ignore[misc]


def _probe(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _bombs(work: Path) -> list[tuple[str, int, str, float]]:
    rows = []
    for kind, make in sorted(bombs.BOMBS.items()):
        bomb = make(work / f"bomb.{kind}", inflated=1024 * bombs.MB)
        normal = make(work / f"normal.{kind}", inflated=bombs.MB)
        got = _probe(BOMB_PROBE, str(normal), str(bomb))
        message = got["error"]["message"] if got["error"] else "LOADED (not refused)"
        rows.append((kind, bomb.stat().st_size, message, got["peak_mb"] - got["before_mb"]))
    return rows


def _texts(work: Path) -> list[tuple[int, int, float]]:
    rows = []
    for mb in (10, 40):
        path = _text(work / f"text{mb}.txt", mb * bombs.MB)
        got = _probe(TEXT_PROBE, str(work / f"home{mb}"), str(path))
        rows.append((mb, got["chunks"], got["peak_mb"] - got["before_mb"]))
    return rows


def _crashes(work: Path, runs: int) -> list[str]:
    got = crash.series(work / "crash", runs, seed=2026)
    ops: dict[str, list[crash.Run]] = {}
    for r in got:
        ops.setdefault(r.op, []).append(r)
    out = ["| killed during | runs | killed mid-way | finished first | runs with a problem |",
           "| --- | ---: | ---: | ---: | ---: |"]
    for op in crash.OPS:
        rs = ops.get(op, [])
        out.append(f"| {CRASH_OPS[op]} | {len(rs)} | {sum(r.killed for r in rs)} | {sum(not r.killed for r in rs)} "
                   f"| {sum(bool(r.problems) for r in rs)} |")
    bad = [r for r in got if r.problems]
    out.append(f"| **all** | **{len(got)}** | **{sum(r.killed for r in got)}** | **{sum(not r.killed for r in got)}** "
               f"| **{len(bad)}** |")
    out += [""] + [f"- {r.op} killed after {r.delay_s:.1f} s: {'; '.join(r.problems[:3])}" for r in bad[:10]]
    cli = crash.cli_check(work / "crash" / "home")
    out.append(f"`zhiku kb check` in its own process after the last run: {'; '.join(cli) if cli else 'consistent'}.")
    return out


CRASH_OPS = {"add": "`kb add` (new files)", "add-force": "`kb add --force` (every file replaced)",
             "remove": "`kb remove` (a pattern)", "rebuild": "`kb rebuild`",
             "server-upload": "`zhiku start`, an HTTP upload of 12 files", "server-delete": "`zhiku start`, 8 HTTP deletes"}


def _concurrency(work: Path, rounds: int) -> list[str]:
    from zhiku import Zhiku, load_settings
    from zhiku.api import create_app
    from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
    from zhiku.client import ZhikuClient
    from zhiku.testing.live_server import LiveServer

    rows: dict[str, list[int]] = {}
    for i in range(rounds):
        zk = Zhiku(load_settings(home=work / f"conc{i}", environ={}, overrides={
            "embedding": {"default": "static"}, "server": {"ingest_workers": 4}}))
        server = LiveServer(create_app(zk), bind("127.0.0.1", 0), KEEP_ALIVE_S)
        client = ZhikuClient(server.url, timeout=600)
        try:
            s = concurrency.Served(zk, server, client)
            for name, run in (("50 at once: 20 uploads, 15 deletes, 15 searches", lambda: concurrency.mixed_round(s, "m", i)),
                              ("20 uploads of one file at once", lambda: concurrency.same_name_round(s, "s", False)),
                              ("20 versions of one name at once", lambda: concurrency.same_name_round(s, "v", True))):
                row = rows.setdefault(name, [0, 0, 0])
                row[0] += 1
                try:
                    got = run()
                    row[1] += got.get("lost", 0) + got.get("duplicated", 0) + got.get("stale_searchable", 0) + (
                        got["files"] - 1 if "uploads" in got and "requests" not in got else 0)
                except AssertionError as exc:
                    row[2] += 1
                    print(f"concurrency round {i} {name}: {exc}", file=sys.stderr)
        finally:
            client.close()
            server.stop()
            zk.close()
    out = ["| what | rounds | files lost or duplicated | rounds failing a check |", "| --- | ---: | ---: | ---: |"]
    return out + [f"| {name} | {n} | {lost} | {failed} |" for name, (n, lost, failed) in rows.items()]


def _fuzz(work: Path, examples: int) -> list[str]:
    report = fuzz(work / "fuzz" / "home", examples, negative=True)
    out = [f"{report.cases:,} requests over {report.operations} operations ({examples} generated cases per "
           f"operation, valid and invalid; not fuzzed: {', '.join(f'{m} {p}' for m, p in FUZZ_SKIPPED)}), "
           f"in {report.seconds / 60:.0f} min.", "",
           "| status | answers |", "| --- | ---: |"]
    out += [f"| {code} | {n:,} |" for code, n in sorted(report.statuses.items())]
    out += ["", f"Failures (an undocumented 5xx or a body that does not match the schema): **{len(report.failures)}**."]
    out += [f"- {op}: {kind}: {detail.splitlines()[0][:200]}" for op, kind, detail in report.failures[:15]]
    out += [f"- {op}: could not generate: {why[:200]}" for op, why in report.errors[:5]]
    return out


def _ssrf_and_traversal(work: Path) -> list[str]:
    from zhiku.config import WebSearchSettings
    from zhiku.websearch import FetchRefused, build_fetcher

    with HttpStub("127.0.0.1") as canary, HttpStub(PUBLIC_HOST, canary.port, public=True):
        ws = WebSearchSettings(allow_networks=[f"{PUBLIC_HOST}/32"], fetch_timeout_s=3.0)
        kinds: dict[str, list[int]] = {}
        for kind, url in spellings(canary.port):
            row = kinds.setdefault(kind, [0, 0])
            row[0] += 1
            try:
                build_fetcher(ws, Resolver()).fetch(url)
            except FetchRefused:
                row[1] += 1
            except Exception as exc:  # noqa: BLE001 - not followed: httpx could not read the Location
                row[1] += int("Invalid URL in location header" in str(exc))
        hits = len(canary.hits)
    out = ["| spelling | URLs | refused |", "| --- | ---: | ---: |"]
    out += [f"| {k} | {n} | {ok} |" for k, (n, ok) in kinds.items()]
    total = sum(n for n, _ in kinds.values())
    out += [f"| **all** | **{total}** | **{sum(ok for _, ok in kinds.values())}** |", "",
            f"Requests the canary got: **{hits}** (the suite sends each URL through the fetcher, the read_url tool "
            "over HTTP and web-search chat: 3 paths).", ""]
    n_payloads, n_variants = len(payloads(work / "outside" / "secret.md")), len(variants("0" * 32))
    out.append(f"Path traversal: {n_payloads} payloads × ({n_variants} HTTP route variants + 4 MCP tool calls) = "
               f"{n_payloads * (n_variants + 4):,} requests per run of `test_path_traversal.py` (its result is in the "
               "suites' table above).")
    return out


def generate(crash_runs: int = 120, fuzz_examples: int = 30, rounds: int = 3) -> str:
    with tempfile.TemporaryDirectory(prefix="zhiku-reliability-") as tmp:
        work = Path(tmp)
        suites = _run_suites(work)
        bomb_rows = _bombs(work)
        text_rows = _texts(work)
        crash_rows = _crashes(work, crash_runs)
        concurrency_rows = _concurrency(work, rounds)
        fuzz_rows = _fuzz(work, fuzz_examples)
        ssrf_rows = _ssrf_and_traversal(work)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [BEGIN, "", f"_Generated by `scripts/reliability.py` on {when}, {platform.machine()} Linux, "
           f"Python {platform.python_version()}._", ""]
    out += ["### The suites (`tests/hardening` and the security suites beside it)", "",
            "| suite | cases | passed | failed |", "| --- | ---: | ---: | ---: |"]
    out += [f"| {name} | {n} | {ok} | {bad} |" for name, n, ok, bad in suites]
    total = [sum(r[i] for r in suites) for i in (1, 2, 3)]
    out += [f"| **all** | **{total[0]}** | **{total[1]}** | **{total[2]}** |", ""]
    out += ["### Decompression bombs (1 GB unpacked each)", "",
            "| format | file size | answer | peak memory growth |", "| --- | ---: | --- | ---: |"]
    out += [f"| {kind} | {size / bombs.MB:.1f} MB | {msg} | {growth:.0f} MB |" for kind, size, msg, growth in bomb_rows]
    out += ["", "### Large text files (ingested with the static embedder)", "",
            "| file | chunks | peak memory growth | growth / size |", "| ---: | ---: | ---: | ---: |"]
    out += [f"| {mb} MB | {chunks:,} | {growth:.0f} MB | {growth / mb:.1f}× |" for mb, chunks, growth in text_rows]
    out += ["", f"### Crash consistency ({crash_runs} SIGKILLs at random moments, one home)", ""] + crash_rows
    out += ["", f"### Concurrency (a real server, 4 ingestion workers, {rounds} rounds)", ""] + concurrency_rows
    out += ["", "### Schema fuzzing (schemathesis, Chatchat routes included)", ""] + fuzz_rows
    out += ["", "### SSRF canary and path traversal", ""] + ssrf_rows
    out += ["", END]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print the generated part, do not write the doc")
    parser.add_argument("--crash-runs", type=int, default=120, help="SIGKILL runs (default 120)")
    parser.add_argument("--fuzz-examples", type=int, default=30, help="fuzzed cases per operation and mode")
    parser.add_argument("--rounds", type=int, default=3, help="concurrency rounds")
    args = parser.parse_args()
    part = generate(args.crash_runs, args.fuzz_examples, args.rounds)
    if args.print:
        print(part)
        return
    text = DOC.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the markers {BEGIN} ... {END}")
    DOC.write_text(text[: text.index(BEGIN)] + part + text[text.index(END) + len(END):], encoding="utf-8")
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
