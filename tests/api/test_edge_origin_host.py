"""A web page on another site cannot drive a server, a DNS-rebinding page cannot reach it, and JSON
is only read from JSON bodies (zhiku/api/edge.py).

A browser sends a cross-site ``fetch(url, {method: "POST", mode: "no-cors", body: "victim"})`` as
``Content-Type: text/plain`` with an ``Origin`` header, and multipart forms the same way, without
asking first; programs (zhiku.client, the openai SDK, Chatchat's ``requests``) send no Origin.
"""

from __future__ import annotations

import time
from io import BytesIO
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.api.conftest import EN, OVERRIDES, ZH, LiveServer, SyncASGITransport, assert_error
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.client import ZhikuClient

EVIL = "https://evil.example"


def kb_with_a_file(raw: httpx.Client, name: str = "victim") -> str:
    assert raw.post("/api/kbs", json={"name": name}).status_code == 201
    r = raw.post(f"/api/kbs/{name}/files", files=[("files", ("年假.md", BytesIO(ZH.encode())))])
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while raw.get(f"/api/jobs/{r.json()['id']}").json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return name


def test_cross_site_no_cors_delete_is_refused(raw: httpx.Client, zk: Zhiku) -> None:
    kb_with_a_file(raw)
    # exactly what a page on another site sends with fetch(..., {mode: "no-cors", body: "victim"})
    r = raw.post("/knowledge_base/delete_knowledge_base", content=b"victim",
                 headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "forbidden", r.text
    assert r.json()["code"] == 403  # Chatchat's envelope on its routes
    # even without an Origin, a text/plain body is never read as JSON
    r = raw.post("/knowledge_base/delete_knowledge_base", content=b'"victim"', headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["type"] == "unsupported_media_type", r.text
    assert zk.kb("victim").name == "victim"


@pytest.mark.parametrize("header", [{"Origin": EVIL}, {"Origin": "null"}, {"Referer": EVIL + "/page.html"},
                                    {"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://zhiku.test.evil.example"}])
def test_cross_site_changes_are_refused(raw: httpx.Client, zk: Zhiku, header: dict[str, str]) -> None:
    kb_with_a_file(raw)
    file = ("files", ("planted.md", BytesIO(EN.encode())))
    for method, path, kwargs in [
        ("POST", "/api/kbs", {"json": {"name": "planted"}}),
        ("POST", "/api/kbs/victim/files", {"files": [file]}),
        ("POST", "/knowledge_base/upload_docs", {"data": {"knowledge_base_name": "victim"}, "files": [file]}),
        ("POST", "/api/kbs/victim/rebuild", {}),
        ("POST", "/api/kbs/victim/check?repair=true", {}),
        ("PATCH", "/api/kbs/victim", {"json": {"description": "defaced"}}),
        ("DELETE", "/api/kbs/victim", {}),
        ("POST", "/v1/chat/completions", {"json": {"model": "kb:victim", "messages": [{"role": "user", "content": "x"}]}}),
    ]:
        r = raw.request(method, path, headers=header, **kwargs)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert r.json()["error"]["type"] == "forbidden"
    assert [k.name for k in zk.list_kbs()] == ["victim"]
    assert [f.name for f in zk.list_files("victim")] == ["年假.md"]
    assert zk.kb("victim").description == ""


def test_own_origin_and_allowed_origins_pass(home: Path) -> None:
    overrides: dict[str, Any] = {**OVERRIDES, "server": {"allowed_origins": ["https://portal.example.com"]}}
    zk = Zhiku(load_settings(home=home, overrides=overrides, environ={}))
    transport = SyncASGITransport(create_app(zk))
    try:
        with httpx.Client(base_url="http://zhiku.test", transport=transport) as raw:
            for n, origin in enumerate(("http://zhiku.test", "http://zhiku.test:80", "https://portal.example.com")):
                r = raw.post("/api/kbs", json={"name": f"kb{n}"}, headers={"Origin": origin})
                assert r.status_code == 201, (origin, r.text)
            assert raw.post("/api/kbs", json={"name": "x"}, headers={"Origin": "https://portal.example.com:8443"}
                            ).status_code == 403
            # reading from another site is not a change (and no CORS header lets the page read the answer)
            r = raw.get("/api/kbs", headers={"Origin": EVIL})
            assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    finally:
        transport.close()
        zk.close()


def test_non_json_bodies_are_never_read_as_json(raw: httpx.Client, zk: Zhiku) -> None:
    body = b'{"name": "planted"}'
    for headers in ({"Content-Type": "text/plain"}, {}, {"Content-Type": "application/x-www-form-urlencoded"},
                    {"Content-Type": "multipart/form-data; boundary=x"}):
        r = raw.post("/api/kbs", content=body, headers=headers)
        assert_error(r, 415, "unsupported_media_type")
    assert zk.list_kbs() == []
    assert raw.post("/api/kbs", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
                    ).status_code == 201
    assert raw.post("/api/kbs", content=b'{"name": "two"}', headers={"Content-Type": "application/vnd.x+json"}
                    ).status_code == 201


@pytest.fixture
def loopback(home: Path) -> Iterator[tuple[LiveServer, Zhiku]]:
    overrides: dict[str, Any] = {**OVERRIDES, "server": {"allowed_hosts": ["kb.example.com"]}}
    zk = Zhiku(load_settings(home=home, overrides=overrides, environ={}))
    server = LiveServer(zk)
    yield server, zk
    server.stop()
    zk.close()


def test_foreign_host_headers_are_refused_on_loopback(live: LiveServer) -> None:
    port = live.url.rsplit(":", 1)[1]
    with httpx.Client(base_url=live.url) as http:
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.io", "localhost.evil.example", ""):
            r = http.get("/api/kbs", headers={"Host": host})
            assert_error(r, 421, "invalid_input")
        r = http.get("/", headers={"Host": "rebound.evil.example"})  # the UI and docs too
        assert r.status_code == 421
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}", "127.0.0.1"):
            assert http.get("/api/kbs", headers={"Host": host}).status_code == 200, host
    with ZhikuClient(live.url) as client:  # the client, as the UI and the CLI's --server use it
        assert client.create_kb("手册").name == "手册"


def test_allowed_hosts_and_links_built_from_the_checked_host(loopback: tuple[LiveServer, Zhiku]) -> None:
    live, zk = loopback
    port = live.url.rsplit(":", 1)[1]
    with httpx.Client(base_url=live.url, timeout=60) as http:
        assert http.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "库"}).status_code == 200
        r = http.post("/knowledge_base/upload_docs", data={"knowledge_base_name": "库"},
                      files=[("files", ("年假.md", BytesIO(ZH.encode())))])
        assert r.status_code == 200 and r.json()["data"]["failed_files"] == {}, r.text
        for host, base in ((f"kb.example.com:{port}", f"http://kb.example.com:{port}"),
                           (f"127.0.0.1:{port}", f"http://127.0.0.1:{port}")):
            r = http.post("/chat/kb_chat", headers={"Host": host},
                          json={"query": "年假有多少天？", "kb_name": "库", "stream": False, "score_threshold": 2.0})
            assert r.status_code == 200, r.text
            assert r.json()["docs"][0].startswith(f"出处 [1] [年假.md]({base}/knowledge_base/download_doc?"), r.json()
        assert_error(http.get("/api/kbs", headers={"Host": "evil.example"}), 421, "invalid_input")


def test_links_never_use_an_unchecked_host(zk: Zhiku) -> None:
    """Listening on a LAN address without server.allowed_hosts, any Host is answered (auth guards that
    server), but a link is built from the address the request came to, not from the header."""
    transport = SyncASGITransport(create_app(zk))
    try:
        with httpx.Client(base_url="http://10.1.2.3:7861", transport=transport, timeout=60) as raw:
            raw.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "库"})
            raw.post("/knowledge_base/upload_docs", data={"knowledge_base_name": "库"},
                     files=[("files", ("年假.md", BytesIO(ZH.encode())))])
            r = raw.post("/chat/kb_chat", headers={"Host": "evil.example"},
                         json={"query": "年假有多少天？", "kb_name": "库", "stream": False, "score_threshold": 2.0})
            assert r.status_code == 200, r.text
            link = r.json()["docs"][0]
            assert "evil.example" not in link and "(http://10.1.2.3:7861/knowledge_base/download_doc?" in link
    finally:
        transport.close()
