"""The auth matrix's MCP face (issue 20's permanent list): the route walker of
tests/api/test_route_authorization.py over the app `zhiku start` serves — the API with the MCP server
mounted at /mcp — finds nothing undeclared but that mount, which authorises each request itself; and
at /mcp, over a real uvicorn, a key that is revoked, expired or whose user is disabled stops working
at the next request, as it does on the REST routes (tests/api/test_auth.py), while a read key works.
A new mount besides /mcp fails the first test."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.api.test_route_authorization import problems
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
from zhiku.mcp.http import mount_mcp
from zhiku.testing.live_server import LiveServer

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
MOUNTED_WITH_OWN_AUTH = {"/mcp"}  # zhiku.mcp.http checks the key, its scope and the user on every request


@pytest.fixture
def zk(tmp_path: Path) -> Iterator[Zhiku]:
    z = Zhiku(load_settings(home=tmp_path / "home", environ={}, overrides={"embedding": {"default": "static"}}))
    yield z
    z.close()


def test_the_served_app_declares_everything_but_the_mcp_mount(zk: Zhiku) -> None:
    api = create_app(zk)
    mount_mcp(api, zk)
    found = problems(api)
    assert sorted(found) == sorted(f"{p}: not an API route and not on the allow-list" for p in MOUNTED_WITH_OWN_AUTH)


def test_revoked_expired_and_disabled_keys_stop_at_once_on_mcp(zk: Zhiku) -> None:
    auth = zk.auth
    auth.create_user("admin", "admin-password-1", role="admin")
    auth.create_user("alice", "alice-password-1")
    read_key = auth.create_key("alice", "r", ["read"])[1]
    other_key = auth.create_key("alice", "r2", ["read"])[1]
    write_only = auth.create_key("alice", "w", ["write"])[1]
    expired = auth.create_key("alice", "old", ["read"], expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))[1]
    api = create_app(zk)
    mount_mcp(api, zk)
    server = LiveServer(api, bind("127.0.0.1", 0), KEEP_ALIVE_S)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            def init(key: str | None) -> int:
                headers = {**ACCEPT, **({"Authorization": f"Bearer {key}"} if key else {})}
                return c.post("/mcp", json=INIT, headers=headers).status_code

            assert [init(None), init("zk-forged"), init(expired), init(write_only), init(read_key)] == [
                401, 401, 401, 403, 200]
            auth.revoke_key(next(k.id for k in auth.list_keys("alice") if k.prefix == read_key[:10]))
            assert init(read_key) == 401  # at the next request: no cache of good keys
            assert init(other_key) == 200
            auth.update_user("alice", disabled=True)
            assert init(other_key) == 401
            auth.update_user("alice", disabled=False)
            assert init(other_key) == 200
    finally:
        server.stop()
