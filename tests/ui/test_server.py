"""``zhiku start`` serves the UI at / beside the API: API paths stay API answers, Streamlit cannot call
home, and the cookie sign-in refuses cross-site posts and open redirects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.ui.browser import ZhikuServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ZhikuServer]:
    s = ZhikuServer(tmp_path / "home")
    yield s
    s.stop()


def test_streamlit_is_configured_not_to_call_home() -> None:
    from streamlit import config

    from zhiku.ui.server import configure_streamlit

    configure_streamlit()
    assert config.get_option("browser.gatherUsageStats") is False
    assert config.get_option("server.fileWatcherType") == "none"


def test_the_ui_and_the_api_share_the_port(server: ZhikuServer) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        page = http.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and not [a for a in assets if "//" in a], assets  # all from this server
        assert http.get("/kbs").status_code == 200  # a page's own address (refresh, link)
        assert http.get("/_stcore/health").text == "ok"
        assert http.get("/api/kbs").json() == []
        missing = http.get("/api/no-such-thing")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
        assert http.put("/api/kbs").status_code == 405  # a known path with another method
        assert http.get("/v1/models").status_code == 200
        assert http.get("/docs").status_code == 200


def test_web_sign_in_refuses_cross_site_posts_and_foreign_redirects(server: ZhikuServer) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as http:
        form = {"username": "nobody", "password": "x", "next": "//evil.example/steal"}
        foreign = http.post("/ui/login", data=form, headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403
        refused = http.post("/ui/login", data=form, headers={"Origin": server.url})
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/?login_error=")  # back home, never to another site
        assert "zhiku_token" not in refused.cookies
        assert http.post("/ui/logout", headers={"Origin": "http://evil.example"}).status_code == 403
        out = http.post("/ui/logout", data={"next": "/kbs?lang=English"}, headers={"Origin": server.url})
        assert out.status_code == 303 and out.headers["location"] == "/kbs?lang=English&signed_out=1"


def test_no_ui_leaves_the_api_alone(tmp_path: Path) -> None:
    server = ZhikuServer(tmp_path / "home", args=("--no-ui",))
    try:
        with httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as http:
            assert http.get("/").headers["location"] == "/docs"
            assert http.get("/_stcore/health").status_code == 404
    finally:
        server.stop()


def test_a_browser_that_signed_in_before_signs_in_while_its_name_is_paused(tmp_path: Path) -> None:
    """Issue 20, item 8: wrong passwords typed elsewhere pause the name, but the web UI keeps the
    device token of its user's last sign-in (cookie ``zhiku_device``) and sends it with the next one."""
    import subprocess

    from tests.ui.browser import ZHIKU

    home, password = tmp_path / "home", "correct horse 1"
    made = subprocess.run([str(ZHIKU), "--home", str(home), "user", "add", "alice", "--password-stdin"],
                          input=password + "\n", capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    server = ZhikuServer(home)
    try:
        args: dict = {"base_url": server.url, "follow_redirects": False, "headers": {"Origin": server.url}, "timeout": 60}
        with httpx.Client(**args) as known, httpx.Client(**args) as other:
            def sign_in(http: httpx.Client, pw: str) -> httpx.Response:
                return http.post("/ui/login", data={"username": "alice", "password": pw, "next": "/kbs"})

            first = sign_in(known, password)
            assert first.status_code == 303 and first.headers["location"] == "/kbs"
            device = [h for h in first.headers.get_list("set-cookie") if h.startswith("zhiku_device=")]
            assert len(device) == 1, first.headers
            assert "httponly" in device[0].lower() and "samesite=strict" in device[0].lower()
            assert "path=/ui/login" in device[0].lower()  # sent to the sign-in only
            for _ in range(5):
                wrong = sign_in(other, "guess")
                assert "login_code=unauthorized" in wrong.headers["location"]
            paused = sign_in(other, password)  # the right password from a browser never signed in here
            assert "login_code=rate_limited" in paused.headers["location"], paused.headers
            assert "zhiku_token" not in paused.cookies
            again = sign_in(known, password)  # the browser alice signs in with still can
            assert again.headers["location"] == "/kbs" and again.cookies.get("zhiku_token")
            known.cookies.delete("zhiku_device")
            assert "login_code=rate_limited" in sign_in(known, password).headers["location"]  # the cookie did it
    finally:
        server.stop()
