"""Real zhiku processes sharing one database and one home: `zhiku start` servers and `zhiku worker`s.

Every process is a subprocess of the test on 127.0.0.1 (servers on free ports), with the `static`
embedder and short job leases from the home's config.yaml; its output goes to a log file under the
test's folder, shown when an assertion fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from zhiku.client import ZhikuClient

FAST_JOBS = {"lease_s": 10.0, "heartbeat_s": 1.0, "poll_s": 0.2}  # the lease allows for a loaded machine


def write_config(home: Path, database_url: str | None, **extra: Any) -> None:
    home.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"embedding": {"default": "static"}, "jobs": dict(FAST_JOBS), "log_level": "INFO"}
    if database_url:
        config["database_url"] = database_url
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    (home / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


class Proc:
    """One zhiku process; ``url`` for a server."""

    def __init__(self, name: str, home: Path, logs: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        self.name, self.log = name, logs / f"{name}.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
        environ.update(env or {})
        out = self.log.open("w")
        self.popen = subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(home), *args],
                                      env=environ, stdout=out, stderr=subprocess.STDOUT, text=True)
        out.close()
        self.url = ""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_for_line(self, pattern: str, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text())
            if match:
                return match.group(0)
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name} never printed {pattern!r} (exit {self.popen.poll()}):\n{self.text()[-3000:]}")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        return self.popen.returncode

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait(timeout=10)


class Cluster:
    """Servers and workers started on one home (and one database, from its config.yaml)."""

    def __init__(self, home: Path, logs: Path) -> None:
        self.home, self.logs = home, logs
        logs.mkdir(parents=True, exist_ok=True)
        self.procs: list[Proc] = []
        self.clients: list[ZhikuClient] = []

    def server(self, name: str) -> ZhikuClient:
        proc = Proc(name, self.home, self.logs, ["start", "--no-ui", "--port", "0"])
        self.procs.append(proc)
        proc.url = proc.wait_for_line(r"http://127\.0\.0\.1:\d+")
        client = ZhikuClient(proc.url, timeout=60)
        self.clients.append(client)
        return client

    def worker(self, name: str, env: dict[str, str] | None = None) -> Proc:
        proc = Proc(name, self.home, self.logs, ["worker"], env)
        self.procs.append(proc)
        proc.wait_for_line(r"zhiku worker \S+: ingesting")
        return proc

    def logs_text(self) -> str:
        return "\n".join(f"--- {p.name} (exit {p.popen.poll()}):\n{p.text()[-2500:]}" for p in self.procs)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for proc in self.procs:
            proc.stop()


@pytest.fixture
def cluster_logs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "logs"


def many_small_files(n: int, start: int = 0, tag: str = "f") -> list[tuple[str, bytes]]:
    """Small text files, each with a word found in it only (``{tag}{i}word``) to search it by."""
    return [(f"{tag}{i:04d}.txt",
             f"File {i} of the batch. Its marker is {tag}{i:04d}word, found nowhere else.\n".encode())
            for i in range(start, start + n)]
