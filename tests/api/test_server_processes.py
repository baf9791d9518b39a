"""`zhiku start --processes 2` (zhiku/cli/server_processes.py): two real server processes on one port.
API connections are spread over both, the web UI's stay in the first (its sessions and uploads live
there), a file added through one is found through the other, streamed KB chats through the openai SDK all
answer, a process killed with SIGKILL is replaced while requests keep succeeding, and stopping the first
stops them all."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from zhiku.cli.server_processes import is_api_request
from zhiku.testing.llm_servers import ChatServer

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="several server processes pass sockets (Linux)")

DOC = "# 年假制度\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。\n"


class Servers:
    """``zhiku start --processes N`` as a process, its output kept line by line."""

    def __init__(self, home: Path, processes: int, *args: str, command: list[str] | None = None,
                 cwd: Path | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
        env["ZHIKU_EMBEDDING__DEFAULT"] = "static"
        self.proc = subprocess.Popen(
            [*(command or [sys.executable, "-m", "zhiku"]), "--home", str(home), "start", "--port", "0",
             "--processes", str(processes), *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self.seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_for(r"serving on (http://127\.0\.0\.1:\d+)")
        self.url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)  # type: ignore[union-attr]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.seen:
                self.lines.append(line)
                self.seen.notify_all()

    def wait_for(self, pattern: str, timeout: float = 120.0, after: int = 0) -> str:
        deadline = time.monotonic() + timeout
        with self.seen:
            while True:
                for line in self.lines[after:]:
                    if re.search(pattern, line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.seen.wait(0.5)):
                    raise AssertionError(f"no {pattern!r} in the output: {''.join(self.lines)[-3000:]}")
                self.seen.wait(min(left, 0.5))

    def others(self) -> list[int]:
        """The pids of the other server processes (the first one's children)."""
        found = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():  # a restarted one is the watcher thread's child
            try:
                found += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
        return found

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def _fresh(url: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    """One request on a connection of its own (connections, not requests, are spread)."""
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def two(home: Path, tmp_path: Path) -> Iterator[tuple[Servers, ChatServer]]:
    with ChatServer(reply="员工每年享有十五天带薪年假 [1]。") as chat:
        home.mkdir(parents=True, exist_ok=True)
        (home / "config.yaml").write_text(json.dumps({"llm": {"default": "standin", "detect_local": False, "models": {
            "standin": {"type": "openai", "base_url": chat.base_url, "model": "ok"}}}}), encoding="utf-8")
        servers = Servers(home, 2)
        try:
            servers.wait_for("all 2 server processes are serving")
            yield servers, chat
        finally:
            assert servers.stop() == 0, "".join(servers.lines)[-3000:]


def test_api_connections_are_spread_and_every_process_sees_every_change(two: tuple[Servers, ChatServer]) -> None:
    servers, _ = two
    url = servers.url
    made = _fresh(url, "POST", "/api/kbs", json={"name": "人事手册", "description": "HR"})
    assert made.status_code in (200, 201), made.text
    up = _fresh(url, "POST", "/api/kbs/人事手册/files", files={"files": ("hr/年假.md", DOC.encode(), "text/markdown")})
    assert up.status_code in (200, 201, 202), up.text
    job = up.json()
    if up.status_code == 202:  # queued: it is done when any process (both claim jobs) says so
        deadline = time.monotonic() + 60
        while _fresh(url, "GET", f"/api/jobs/{job['id']}").json()["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    answered: dict[str, list[str]] = {}
    for _ in range(8):  # fresh connections: both processes answer, and both find the file
        r = _fresh(url, "POST", "/api/search", json={"kbs": ["人事手册"], "query": "年假有几天", "top_k": 3})
        assert r.status_code == 200, r.text
        answered.setdefault(r.headers["x-zhiku-process"], []).append(r.json()[0]["file"])
    assert set(answered) == {"0", "1"}
    assert all(f == "hr/年假.md" for files in answered.values() for f in files)
    renamed = _fresh(url, "PATCH", "/api/kbs/人事手册", json={"name": "人事手册二"})
    assert renamed.status_code == 200, renamed.text
    for _ in range(4):  # no process keeps the old name
        assert _fresh(url, "GET", "/api/kbs/人事手册").status_code == 404
        assert _fresh(url, "GET", "/api/kbs/人事手册二").status_code == 200
    # the web UI's connections stay in the first process: a browser's upload must reach its session
    for path in ("/", "/_stcore/health", "/kbs"):
        assert {_fresh(url, "GET", path).headers["x-zhiku-process"] for _ in range(4)} == {"0"}, path


def test_streamed_kb_chats_through_the_openai_sdk_all_answer(two: tuple[Servers, ChatServer]) -> None:
    openai = pytest.importorskip("openai")
    servers, chat = two
    url = servers.url
    assert _fresh(url, "POST", "/api/kbs", json={"name": "hr"}).status_code in (200, 201)
    up = _fresh(url, "POST", "/api/kbs/hr/files?wait=true", files={"files": ("年假.md", DOC.encode(), "text/markdown")})
    assert up.status_code in (200, 201, 202), up.text
    deadline = time.monotonic() + 60
    while not _fresh(url, "POST", "/api/search", json={"kbs": ["hr"], "query": "年假"}).json():
        assert time.monotonic() < deadline
        time.sleep(0.2)

    def one(i: int) -> tuple[str, str]:
        client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=60)
        try:  # a client of its own: a connection of its own
            raw = client.chat.completions.with_raw_response.create(
                model="kb:hr", stream=True, messages=[{"role": "user", "content": f"年假有几天？（{i}）"}])
            text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
            return raw.headers["x-zhiku-process"], text
        finally:
            client.close()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(16)))
    assert {p for p, _ in results} == {"0", "1"}
    assert all("十五天" in text for _, text in results), results
    assert len(chat.requests) >= 16


def test_a_killed_process_is_replaced_while_requests_keep_succeeding(two: tuple[Servers, ChatServer]) -> None:
    servers, _ = two
    url = servers.url
    [other] = servers.others()
    os.kill(other, signal.SIGKILL)
    mark = len(servers.lines)
    statuses = [_fresh(url, "GET", "/api/version").status_code for _ in range(20)]  # meanwhile: the first serves
    assert statuses == [200] * 20
    servers.wait_for("server process 1 is serving again", after=mark)
    again = servers.others()
    assert len(again) == 1 and again[0] != other, (other, again)
    assert {_fresh(url, "GET", "/api/version").headers["x-zhiku-process"] for _ in range(6)} == {"0", "1"}


def test_stopping_the_first_process_stops_them_all(home: Path) -> None:
    servers = Servers(home, 3, "--no-ui")
    servers.wait_for("all 3 server processes are serving")
    others = servers.others()
    assert len(others) == 3 - 1
    assert servers.stop() == 0
    for pid in others:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_the_other_processes_run_the_zhiku_that_was_started_not_one_in_the_working_directory(
        home: Path, tmp_path: Path) -> None:
    """`zhiku start --processes 2` run from a folder that holds a ``zhiku`` package of its own (a source
    checkout of another version): the other process serves with the zhiku the command runs, as the first
    does. It was started as ``python -m zhiku``, which imports the working directory's package first."""
    script = Path(sys.executable).with_name("zhiku")
    if not script.exists():
        pytest.skip(f"no zhiku command beside {sys.executable}")
    checkout = tmp_path / "checkout"
    (checkout / "zhiku").mkdir(parents=True)
    decoy = 'raise SystemExit("the zhiku package in the working directory was imported")\n'
    for name in ("__init__.py", "__main__.py"):
        (checkout / "zhiku" / name).write_text(decoy, encoding="utf-8")
    servers = Servers(home, 2, "--no-ui", command=[str(script)], cwd=checkout)
    try:
        servers.wait_for("all 2 server processes are serving", timeout=90)
        assert {_fresh(servers.url, "GET", "/api/version").headers["x-zhiku-process"] for _ in range(6)} == {"0", "1"}
    finally:
        assert servers.stop() == 0, "".join(servers.lines)[-3000:]
    assert "working directory was imported" not in "".join(servers.lines)


def test_a_number_of_processes_out_of_range_is_one_clear_error(home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    for bad in ("0", "65"):
        r = subprocess.run([sys.executable, "-m", "zhiku", "--home", str(home), "start", "--port", "0", "--processes",
                            bad], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and "--processes" in r.stderr and "Traceback" not in r.stderr, r.stderr
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text("server:\n  processes: 0\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "zhiku", "--home", str(home), "start", "--port", "0"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "processes" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_which_connections_are_the_apis() -> None:
    assert is_api_request(b"POST /v1/chat/completions HTTP/1.1")
    assert is_api_request(b"GET /api/kbs HTTP/1.1")
    assert is_api_request(b"POST /chat/kb_chat HTTP/1.1") and is_api_request(b"POST /knowledge_base/upload_docs HTTP/1.1")
    for line in (b"GET / HTTP/1.1", b"GET /_stcore/stream HTTP/1.1", b"PUT /_stcore/upload_file/s/f HTTP/1.1",
                 b"GET /chat HTTP/1.1", b"GET /kbs HTTP/1.1", b"POST /mcp HTTP/1.1", b"GET /docs HTTP/1.1", b"junk",
                 b"POST /api/settings/pulls HTTP/1.1", b"GET /api/settings/pulls/abc HTTP/1.1"):
        assert not is_api_request(line), line
