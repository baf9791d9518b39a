"""GET /api/models: the chat models a conversation can pick, with reachability on request."""

from __future__ import annotations

from pathlib import Path

from tests.api.conftest import SyncASGITransport
from tests.api.test_conversations import model_app
from zhiku.api import create_app
from zhiku.client import ZhikuClient
from zhiku.testing.llm_servers import ChatServer


def test_models_are_listed_with_reachability(home: Path) -> None:
    with ChatServer(reply="ok", models=("ok",)) as server:
        app = model_app(home, server.base_url, models={
            "test": {"base_url": server.base_url, "model": "ok"},
            "gone": {"base_url": "http://127.0.0.1:9/v1", "model": "qwen", "connect_timeout_s": 1.0}})
        transport = SyncASGITransport(create_app(app))
        try:
            with ZhikuClient("http://zhiku.test", transport=transport) as c:
                quick = {m.name: m for m in c.list_models()}
                assert set(quick) == {"test", "gone"} and quick["test"].default and not quick["gone"].default
                assert quick["test"].reachable is None and quick["test"].target == server.base_url
                checked = {m.name: m for m in c.list_models(check=True)}
                assert checked["test"].reachable is True and checked["test"].reason is None
                assert checked["gone"].reachable is False and "127.0.0.1:9" in (checked["gone"].reason or "")
        finally:
            transport.close()
            app.close()

