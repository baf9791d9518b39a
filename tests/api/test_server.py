"""The real server: `zhiku start` as a process, offline docs, loopback only, and staying
responsive while it ingests."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import EN, ZH, LiveServer, assert_error, many_docs
from zhiku import Zhiku, load_settings
from zhiku.cli.commands_server import is_loopback
from zhiku.client import AsyncZhikuClient, ZhikuClient
from zhiku.errors import Unavailable


def _start(home: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    env["ZHIKU_EMBEDDING__DEFAULT"] = "static"
    log = (home.parent / "server.log").open("a")  # read by _log() when something fails
    proc = subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(home), "start", "--port", "0", *args],
                            env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    log.close()
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once the socket is bound
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not match:
        proc.kill()
        raise AssertionError(f"no URL in {line!r}; server log: {_log(home)}")
    return proc, match.group(0)


def _log(home: Path) -> str:
    path = home.parent / "server.log"
    return path.read_text()[-4000:] if path.exists() else ""


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_zhiku_start_serves_the_api_and_offline_docs(home: Path) -> None:
    proc, url = _start(home)
    try:
        with ZhikuClient(url) as client:  # the routes themselves are tested over uvicorn by the `client` fixture
            assert client.health().status == "ok"
            assert client.create_kb("知识库").name == "知识库" and [k.name for k in client.list_kbs()] == ["知识库"]
        with httpx.Client(base_url=url) as http:
            for page in ("/docs", "/redoc"):
                html = http.get(page)
                assert html.status_code == 200 and "text/html" in html.headers["content-type"]
                assert "http://" not in html.text and "https://" not in html.text, f"{page} loads from the network"
                assets = re.findall(r'(?:src|href)="([^"]+)"', html.text) + re.findall(r"url: '([^']+)'", html.text)
                assert assets and all(a.startswith("/") for a in assets)
                for asset in assets:
                    assert http.get(asset).status_code == 200, asset
            assert '"validatorUrl": null' in http.get("/docs").text
            assert http.get("/openapi.json").json()["info"]["title"] == "zhiku"
            home_page = http.get("/")  # the web UI (tests/ui); unknown API paths stay API errors
            assert home_page.status_code == 200 and "text/html" in home_page.headers["content-type"]
            assert http.get("/api/no-such-route").json()["error"]["type"] == "not_found"
    finally:
        assert _stop(proc) == 0
    out, _ = proc.communicate()
    assert "zhiku stopped" in out, _log(home)


def test_start_refuses_to_listen_beyond_loopback(cli) -> None:  # type: ignore[no-untyped-def]
    for host in ("0.0.0.0", "::"):
        result = cli("start", "--host", host)
        assert result.code == 1 and "authentication" in result.err
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.9")
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "", "192.168.1.10", "10.0.0.1"))


def test_start_reports_a_busy_port(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    proc, url = _start(home)
    try:
        result = cli("start", "--port", url.rsplit(":", 1)[1])
        assert result.code == 1 and "cannot listen" in result.err
    finally:
        _stop(proc)


def test_searches_are_answered_while_ingesting(live: LiveServer) -> None:
    """Uploads ingest on worker threads: questions asked meanwhile complete before the job does."""
    with ZhikuClient(live.url) as client:
        client.create_kb("docs")
        client.wait_for_job(client.upload("docs", [("leave.md", ZH.encode()), ("refund.md", EN.encode())]).id)
        client.create_kb("bulk")
        job = client.upload("bulk", many_docs(300))
        deadline = time.monotonic() + 60
        while client.get_job(job.id).files_done < 2:
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.05)

        async def questions() -> list[object]:
            async with AsyncZhikuClient(live.url) as ac:
                calls = [ac.search(["docs", "bulk"], "年假", top_k=3) for _ in range(4)]
                calls += [ac.ask(["docs"], "年假有几天？") for _ in range(3)]
                calls += [ac.health(), ac.list_kbs(), ac.list_files("docs")]
                return await asyncio.gather(*calls)

        results = asyncio.run(questions())
        during = client.get_job(job.id)
        assert during.status == "running" and during.files_done < during.files_total, \
            "the questions were only answered after the ingestion finished"
        assert all(results) and results[4].found  # type: ignore[attr-defined]
        client.cancel_job(job.id)
        assert client.wait_for_job(job.id, timeout=60).status == "cancelled"


def test_upload_over_the_limit_over_http(live: LiveServer, zk: Zhiku) -> None:
    with httpx.Client(base_url=live.url) as http:
        http.post("/api/kbs", json={"name": "kb"})
        response = http.post("/api/kbs/kb/files", files=[("files", ("big.bin", b"\0" * (3 << 20)))])
        assert_error(response, 413, "too_large")  # refused by its declared length
        parts = [("files", (f"p{i}.txt", b"y" * 900_000)) for i in range(3)]
        assert_error(http.post("/api/kbs/kb/files", files=parts), 413, "too_large")  # while streaming
        assert http.get("/api/health").status_code == 200
    assert list((zk.settings.home / "uploads").iterdir()) == []


@pytest.mark.slow
def test_a_killed_servers_job_is_taken_over_and_finished_by_the_next_start(home: Path) -> None:
    """Killed mid-job, the server's claim names a pid of this host that is gone: the next process
    on the home takes the job over at once (not after the lease) and finishes it."""
    proc, url = _start(home)
    try:
        with ZhikuClient(url) as client:
            client.create_kb("kb")
            job = client.upload("kb", many_docs(80))
            deadline = time.monotonic() + 60
            while client.get_job(job.id).files_done < 3:
                assert time.monotonic() < deadline
                time.sleep(0.02)
    except Exception as exc:
        raise AssertionError(f"{exc}; server alive: {proc.poll() is None}; server log: {_log(home)}") from exc
    finally:
        proc.kill()
        proc.wait(timeout=20)
        proc.communicate()
    with Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}}, environ={})) as zk:
        with pytest.raises(Unavailable):
            zk.job(job.id)
        zk.start_jobs()
        deadline = time.monotonic() + 120
        while (taken := zk.job(job.id)).status in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert taken.status == "done" and taken.files_failed == 0 and taken.files_done == 80
        assert len(zk.list_files("kb")) == 80 and zk.check("kb") == []
