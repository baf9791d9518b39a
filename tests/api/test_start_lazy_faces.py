"""`zhiku start` warms up the search path only: the web UI (Streamlit) and the MCP tools are set up
by their own first request, so an idle server that nobody opened a page or called a tool on does
not hold them, and that first page and tool call are still answered correctly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from zhiku import Zhiku, load_settings

UI_STARTED, MCP_STARTED = "the web UI started", "the MCP tools started"  # zhiku.api.lazy_mount's log


def test_after_the_warm_up_neither_face_is_built_until_its_first_request(home: Path, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# 年假\n入职满一年的员工有十五天年假。", encoding="utf-8")
    with Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}})) as app:
        app.create_kb("hr")
        assert app.add_files("hr", [tmp_path / "a.md"]).ok
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    env["ZHIKU_EMBEDDING__DEFAULT"] = "static"
    proc = subprocess.Popen([sys.executable, "-m", "zhiku", "--verbose", "--home", str(home), "start", "--port", "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    warm = threading.Event()

    def read() -> None:  # the server's output: "serving on", its log and access log, "warmed up"
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            if "warmed up in" in line:
                warm.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert warm.wait(120), "".join(log)
        match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", "".join(log))
        assert match, "no URL printed"
        with httpx.Client(base_url=match.group(1), timeout=60) as http:
            assert http.post("/api/search", json={"kbs": ["hr"], "query": "年假"}).json()[0]["text"].endswith("十五天年假。")
            assert http.get("/api/health").status_code == 200  # its log line follows anything logged before it
            assert not [line for line in log if UI_STARTED in line or MCP_STARTED in line]

            called = http.post("/mcp", headers={"accept": "application/json, text/event-stream"},
                               json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                     "params": {"name": "search", "arguments": {"query": "年假", "kbs": ["hr"]}}})
            assert called.status_code == 200 and "十五天年假" in called.text  # the first tool call builds and answers
            page = http.get("/")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert http.get("/api/kbs").status_code == 200  # the API is unchanged by the UI's mount at /
            assert http.get("/api/no-such-route").status_code == 404  # an API miss stays an API error
            assert http.get("/api/health").status_code == 200
            text = "".join(log)
            assert MCP_STARTED in text and UI_STARTED in text
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
