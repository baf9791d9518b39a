"""A real Milvus server for tests and benchmarks, from a PyPI wheel: no Docker, no root needed.

milvus-lite (what most tests use) is a Python engine for development; the Milvus *server* is a Go binary.
The ``milvus`` wheel ("embedded Milvus", releases up to 2.3.x) carries that binary — Milvus 2.3.5 standalone
with embedded etcd and local storage — and starts it as a child process. Its pins would clash with zhiku's
pymilvus, so it lives in a virtual environment of its own, made on first use (~57 MB from PyPI) under
``~/.cache/zhiku-tests``. The embedded etcd listens on its fixed ports (2379, 2380): one server at a time
per machine. Milvus 2.3 has no BM25 function (2.5 added it): only zhiku's dense index runs on it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

WHEEL = "milvus==2.3.5"
VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zhiku-tests" / "milvus-2.3.5"
START_S = 180.0
_SCRIPT = """
import signal, sys, time
from milvus import default_server
default_server.set_base_dir(sys.argv[1])
default_server.listen_port = int(sys.argv[2])
default_server.start()

def stop(*_):
    default_server.stop()
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
print("listening", flush=True)
while True:
    time.sleep(3600)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MilvusServer:
    """Milvus 2.3.5 standalone keeping its data in ``base`` (kept across runs), on 127.0.0.1:``port``."""

    def __init__(self, base: Path, port: int | None = None, venv: Path = VENV) -> None:
        self.base, self.port, self.venv = Path(base), port or _free_port(), Path(venv)
        self.uri = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[str] | None = None

    def _python(self) -> Path:
        python = self.venv / "bin" / "python"
        if not python.exists():
            self.venv.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True, timeout=300)
            subprocess.run([str(self.venv / "bin" / "pip"), "install", "-q", WHEEL], check=True, timeout=900)
        return python

    def start(self) -> "MilvusServer":
        """Start it and return once it answers (the port listens a moment before the proxy serves)."""
        from pymilvus import MilvusClient

        self._proc = subprocess.Popen([str(self._python()), "-c", _SCRIPT, str(self.base), str(self.port)],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self._proc.stdout is not None
        if not any("listening" in line for line in self._proc.stdout):
            raise RuntimeError(f"the Milvus server did not start (exit {self._proc.wait()}): see {self.base}/logs")
        deadline = time.monotonic() + START_S
        while True:
            try:
                MilvusClient(uri=self.uri, timeout=5).get_server_version()
                return self
            except Exception:  # noqa: BLE001 - not serving yet
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the Milvus server did not answer in {START_S:.0f} s: see {self.base}/logs")
                time.sleep(2)

    def binary_pid(self) -> int | None:
        """The ``milvus`` binary's process (the wrapper's child), for its memory."""
        if self._proc is None:
            return None
        for p in Path("/proc").iterdir():
            try:
                stat = (p / "stat").read_text() if p.name.isdigit() else ""
                if stat and stat.split("(", 1)[1].split(")", 1)[0] == "milvus" and \
                        int(stat.rsplit(")", 1)[1].split()[1]) == self._proc.pid:
                    return int(p.name)
            except (FileNotFoundError, IndexError, ValueError):
                continue
        return None

    def stop(self) -> None:
        """Stop it (the wrapper stops the binary on SIGTERM); the data stays in ``base``."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> "MilvusServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
