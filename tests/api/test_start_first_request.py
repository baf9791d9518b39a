"""`zhiku start` begins its warm-up once the server has answered its first request (or after a
short wait when none comes): a health check sent the moment it listens is not held up by jieba's
dictionary load, which keeps the interpreter for a few tenths of a second."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse

from zhiku.cli import commands_server
from zhiku.cli.commands_server import FirstRequest


def _api() -> FastAPI:
    api = FastAPI()

    @api.get("/api/health")
    def health() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @api.get("/boom")
    def boom() -> PlainTextResponse:
        raise RuntimeError("broken route")

    return api


def test_first_request_passes_requests_through_and_notes_the_first_answer() -> None:
    first = FirstRequest(_api())
    with TestClient(first) as client:  # the lifespan goes through and is not a request
        assert not first.answered.is_set()
        assert client.get("/api/health").text == "ok"
        assert first.answered.is_set()
        assert client.get("/api/health").text == "ok"


def test_a_first_request_that_fails_still_counts() -> None:
    first = FirstRequest(_api())
    with TestClient(first, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
    assert first.answered.is_set()


class _FakeZhiku:
    def __init__(self, first: FirstRequest) -> None:
        self.first = first
        self.answered_at_start: bool | None = None

    def warm_up(self) -> dict[str, float]:
        self.answered_at_start = self.first.answered.is_set()
        return {}  # no KB: nothing more to warm


def test_the_warm_up_starts_after_the_first_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands_server, "FIRST_REQUEST_WAIT_S", 120.0)
    first = FirstRequest(_api())
    zhiku = _FakeZhiku(first)
    warm = threading.Thread(target=commands_server._warm_up, args=(zhiku, "http://127.0.0.1:9", first))
    warm.start()
    with TestClient(first) as client:
        client.get("/api/health")
    warm.join(60)
    assert not warm.is_alive()
    assert zhiku.answered_at_start is True


def test_without_a_request_the_warm_up_starts_anyway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands_server, "FIRST_REQUEST_WAIT_S", 0.01)
    first = FirstRequest(_api())
    zhiku: Any = _FakeZhiku(first)
    commands_server._warm_up(zhiku, "http://127.0.0.1:9", first)
    assert zhiku.answered_at_start is False


def test_what_the_warm_up_loaded_is_kept_out_of_full_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once warmed up (a KB was loaded), what start-up loaded is frozen out of the garbage collector's
    full passes, which otherwise walked it during whichever request came when one was due."""
    import gc

    monkeypatch.setattr(commands_server, "FIRST_REQUEST_WAIT_S", 0.01)
    monkeypatch.setattr("zhiku.retrieval.warmup.warm_up_http", lambda url, kbs: {"http": 0.0})
    first = FirstRequest(_api())
    zhiku: Any = _FakeZhiku(first)
    zhiku.warm_up = lambda: {"indexes": 0.1}
    zhiku.list_kbs = lambda: []
    loaded = [{"chunk": i} for i in range(1000)]  # what a warm-up leaves behind, tracked by the collector
    gc.unfreeze()
    try:
        commands_server._warm_up(zhiku, "http://127.0.0.1:9", first)
        assert gc.get_freeze_count() >= len(loaded)
        assert not any(d is loaded[0] for d in gc.get_objects())  # frozen: no longer in any generation
    finally:
        gc.unfreeze()
