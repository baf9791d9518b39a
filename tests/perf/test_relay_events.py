"""How an answer's events reach the client (``zhiku.api.chat_events.Relay``): in order and complete,
keep-alive comments while nothing comes, and an answer that is slow to start still opens (its wait for
the first piece gives up every DISCONNECT_POLL_S to look at the client, then goes on)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Iterator

import pytest

from zhiku.api import chat_events
from zhiku.api.chat_events import ChatEncoder, Relay, answer_of, whole
from zhiku.llm.base import CallControl, Timeouts
from zhiku.schema import Answer, AnswerEvent, Delta, Final

TIMEOUTS = Timeouts(5.0, 30.0, 60.0)


def _answer(pieces: list[str], gate: threading.Event | None = None) -> Any:
    def make(control: CallControl) -> Iterator[AnswerEvent]:
        for i, piece in enumerate(pieces):
            if gate is not None and i == 1:
                gate.wait(30)  # the model pauses after its first piece until the test says so
            yield Delta(text=piece)
        yield Final(answer=Answer(answer="".join(pieces), found=True, citations=[], lang="en", mode="llm"))

    return make


def test_a_pause_is_filled_with_keep_alive_comments_and_the_answer_goes_on() -> None:
    gate = threading.Event()
    pieces = ["first. ", "second. "]

    async def run() -> list[bytes]:
        relay = Relay(_answer(pieces, gate), TIMEOUTS, answer_of)
        out = []
        async for chunk in relay.stream([], ChatEncoder({"mode": "kb"}), 0.02).body_iterator:
            out.append(chunk)
            if b"keep-alive" in chunk:
                gate.set()  # the model goes on once the client has been kept alive
        return out

    chunks = asyncio.run(run())
    stream = b"".join(chunks)
    assert b": keep-alive\n\n" in stream
    assert stream.index(b"first. ") < stream.index(b"keep-alive") < stream.index(b"second. ") < stream.index(b"event: done")


class _Request:
    async def is_disconnected(self) -> bool:
        return False


def test_an_answer_slow_to_start_still_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait for the first piece gives up and looks at the client every DISCONNECT_POLL_S; the
    answer opens once its first piece comes, however many waits that took."""
    monkeypatch.setattr(chat_events, "DISCONNECT_POLL_S", 0.01)
    gate = threading.Event()

    def make(control: CallControl) -> Iterator[AnswerEvent]:
        gate.wait(30)
        yield Delta(text="late")
        yield Final(answer=Answer(answer="late", found=True, citations=[], lang="en", mode="llm"))

    async def run() -> tuple[list[Any], int]:
        relay = Relay(make, TIMEOUTS, whole)
        waits = 0
        request = _Request()

        async def looked() -> bool:  # the client is looked at once per wait that gave up
            nonlocal waits
            waits += 1
            if waits == 5:
                gate.set()
            return False

        request.is_disconnected = looked  # type: ignore[method-assign]
        opening = await relay.opening(request)  # type: ignore[arg-type]
        relay.stop()
        return opening, waits

    opening, waits = asyncio.run(run())
    assert waits >= 5
    assert [type(e).__name__ for e in opening] == ["Delta"] and opening[0].text == "late"
