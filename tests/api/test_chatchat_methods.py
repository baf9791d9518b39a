"""Issue 16, item 5: a Chatchat path zhiku serves, asked with a method it does not take (a POST to a
GET-only route, a GET to a POST-only one), answers 405 in Chatchat's JSON envelope with an ``Allow``
header, through Chatchat's real web-UI client (vendored ``ApiRequest``); a path zhiku does not serve
stays the JSON 404. Also with the web UI mounted at ``/`` (as ``zhiku start`` serves it): never its page."""

from __future__ import annotations

from typing import Any, Iterator

import httpx
import pytest

from tests.api.chatchat_clients import api_request
from tests.api.conftest import LiveServer, SyncASGITransport
from zhiku import Zhiku
from zhiku.api import create_app

pytestmark = pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")

# (method asked, path, what the path takes)
WRONG = [
    ("POST", "/knowledge_base/list_knowledge_bases", "GET"),
    ("POST", "/knowledge_base/list_files", "GET"),
    ("POST", "/knowledge_base/download_doc", "GET"),
    ("GET", "/knowledge_base/search_docs", "POST"),
    ("GET", "/knowledge_base/create_knowledge_base", "POST"),
    ("GET", "/chat/kb_chat", "POST"),
    ("DELETE", "/knowledge_base/upload_docs", "POST"),
]


def _check(r: httpx.Response, method: str, path: str, allow: str) -> None:
    assert r.status_code == 405, (method, path, r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/json") and r.headers["allow"] == allow
    body = r.json()
    assert body["code"] == 405 and body["data"] is None and path in body["msg"] and method in body["msg"]
    assert body["error"]["type"] == "method_not_allowed" and body["error"]["details"]["allowed"] == [allow]


@pytest.fixture
def api(zk: Zhiku) -> Iterator[Any]:
    server = LiveServer(zk)
    yield api_request(server.url)
    server.stop()


def test_a_wrong_method_is_405_in_chatchats_envelope(api: Any) -> None:
    for method, path, allow in WRONG:
        # the client's own get/post (its delete passes json= to httpx, which takes none: its own client)
        r = {"POST": api.post, "GET": api.get}[method](path) if method != "DELETE" else api.client.delete(path)
        _check(r, method, path, allow)
    # unknown paths stay the JSON 404, whatever the method
    for path in ("/knowledge_base/nothing", "/server/nothing", "/chat/chat"):
        for r in (api.get(path), api.post(path, json={})):
            assert r.status_code == 404 and r.json()["code"] == 404 and "allow" not in r.headers, (path, r.text)
    # the right method still works
    assert api.get("/knowledge_base/list_knowledge_bases").json()["code"] == 200


def test_with_the_web_ui_mounted_a_wrong_method_is_still_405(zk: Zhiku) -> None:
    from zhiku.ui.server import mount_ui

    app = create_app(zk, start_jobs=False)
    mount_ui(app, "http://zhiku.test")
    transport = SyncASGITransport(app)
    with httpx.Client(base_url="http://zhiku.test", transport=transport) as raw:
        for method, path, allow in WRONG:
            _check(raw.request(method, path), method, path, allow)
        r = raw.get("/knowledge_base/nothing")
        assert r.status_code == 404 and r.json()["code"] == 404
    transport.close()
