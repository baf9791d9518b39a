"""A real ``zhiku start`` in a subprocess and headless Chromium (Playwright) looking at it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ZHIKU = Path(sys.executable).with_name("zhiku")


def need_browser() -> None:
    if not CHROMIUM.exists():
        pytest.skip("browser test skipped: /usr/bin/chromium is absent (apt-get install chromium; "
                    "`make test` installs it)")
    pytest.importorskip("playwright.sync_api", reason="browser test skipped: playwright is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ZhikuServer:
    """``zhiku --home HOME start --port PORT`` on the static embedder (``extra_env``: more ZHIKU_*
    settings); stopped with SIGINT."""

    def __init__(self, home: Path, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
        env["ZHIKU_EMBEDDING__DEFAULT"] = "static"
        env.update(extra_env or {})
        self.env = env
        self.log = (home.parent / f"server-{self.port}.log").open("wb")
        self.proc = subprocess.Popen([str(ZHIKU), "--home", str(home), "start", "--port", str(self.port), *args],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, self.output()
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "zhiku start did not come up:\n" + self.output()
            time.sleep(0.2)

    def output(self) -> str:
        self.log.flush()
        return (self.home.parent / f"server-{self.port}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.proc.send_signal(2)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


class Watched:
    """A page whose every request and dialog is recorded."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.base_url = base_url
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("websocket", lambda ws: self.requests.append(ws.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.set_default_timeout(60_000)  # a page under a loaded CI machine: waits, not timings

    def external(self) -> list[str]:
        """Requests that left this machine's server (data: and blob: URLs never leave the page)."""
        ws = self.base_url.replace("http://", "ws://")
        return [u for u in self.requests if not u.startswith((self.base_url, ws, "data:", "blob:"))]

    def close(self) -> None:
        self.context.close()
