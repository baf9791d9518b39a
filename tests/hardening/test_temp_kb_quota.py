"""File chat's temporary knowledge bases have a quota per user (issue 20, item 8): at most
``chat.temp_max_per_user`` uploads kept at once and ``chat.temp_max_mb_per_user`` megabytes together;
past either the upload is refused with the reason (409 / 413), nothing of it is kept, and other
users are not affected."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.api.conftest import SyncASGITransport, assert_error
from zhiku import Zhiku, load_settings
from zhiku.api import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[tuple[Zhiku, httpx.Client, httpx.Client]]:
    zk = Zhiku(load_settings(home=tmp_path / "home", environ={}, overrides={
        "embedding": {"default": "static"}, "chat": {"temp_max_per_user": 2, "temp_max_mb_per_user": 1}}))
    zk.auth.create_user("alice", PASSWORD)
    zk.auth.create_user("bob", PASSWORD)
    transport = SyncASGITransport(create_app(zk))
    made = []
    for user in ("alice", "bob"):
        _, token = zk.auth.create_key(user, "t", ["read", "write"])
        made.append(httpx.Client(base_url="http://zhiku.test", transport=transport,
                                 headers={"Authorization": f"Bearer {token}"}))
    try:
        yield zk, made[0], made[1]
    finally:
        for c in made:
            c.close()
        transport.close()
        zk.close()


def _upload(c: httpx.Client, name: str, size: int) -> httpx.Response:
    body = (b"# notes\n\n" + b"The quota holds. " * (size // 17 + 1))[:size]
    return c.post("/api/chat/files", files=[("files", (name, body))])


def test_uploads_past_the_count_are_refused(clients: tuple[Zhiku, httpx.Client, httpx.Client]) -> None:
    zk, alice, bob = clients
    assert _upload(alice, "a.md", 1000).status_code == 202
    assert _upload(alice, "b.md", 1000).status_code == 202
    before = len(zk.catalog.list_kbs())
    err = assert_error(_upload(alice, "c.md", 1000), 409)
    assert "at most 2" in err["message"] and "chat.temp_max_per_user" in err["message"]
    assert len(zk.catalog.list_kbs()) == before  # nothing of the refused upload kept
    assert _upload(bob, "c.md", 1000).status_code == 202  # another user's quota is their own


def test_uploads_past_the_bytes_are_refused(clients: tuple[Zhiku, httpx.Client, httpx.Client]) -> None:
    zk, alice, bob = clients
    assert _upload(alice, "a.md", 600_000).status_code == 202
    err = assert_error(_upload(alice, "b.md", 600_000), 413, "too_large")
    assert "chat.temp_max_mb_per_user" in err["message"]
    assert _upload(bob, "b.md", 600_000).status_code == 202
