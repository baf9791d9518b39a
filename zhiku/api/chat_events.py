"""Answers of every chat mode over HTTP: one JSON message, or the event stream described in
``zhiku.api.chat_protocol``. The answer runs on its own thread (``zhiku.chat.turns``); the
stream only relays it, so a client that goes away stops it (the model call is cancelled and
the upstream request closed) and the partial answer is still stored, marked ``stopped``."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, AsyncIterator, Callable, Iterator

from fastapi import Request
from fastapi.responses import StreamingResponse

from zhiku.api import sse
from zhiku.api.errors import error_body
from zhiku.schema.chat import Message
from zhiku.chat.turns import TurnResult, TurnRunner
from zhiku.errors import ZhikuError
from zhiku.llm.base import CallControl, Timeouts
from zhiku.schema import Answer

log = logging.getLogger(__name__)
DISCONNECT_POLL_S = 0.5
Event = tuple[str, Any]


class Relay:
    """Runs an answer on its thread and hands its events to the event loop (``queue``)."""

    def __init__(self, make: Callable[[CallControl], Iterator[str | Answer]], timeouts: Timeouts,
                 finish: Callable[[TurnResult], Any]) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.runner = TurnRunner(make, timeouts, finish, self._emit)
        self.checked = time.monotonic()  # when the client's connection was last checked

    def _emit(self, name: str, data: Any) -> None:  # called on the answer's thread
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (name, data))
        except RuntimeError:  # the event loop is gone (server shutting down)
            self.runner.cancel.set()

    async def next_event(self, request: Request) -> Event:
        """The next event (the first one, or any of a JSON reply); stops the answer if the client
        leaves while it waits."""
        while True:
            if time.monotonic() - self.checked >= DISCONNECT_POLL_S:
                self.checked = time.monotonic()
                if await request.is_disconnected():
                    self.runner.cancel.set()  # the answer ends soon, stopped, with an "end" event
            try:
                return await asyncio.wait_for(self.queue.get(), DISCONNECT_POLL_S)
            except TimeoutError:
                continue


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ZhikuError):
        details = {k: v for k, v in exc.details.items() if isinstance(v, (str, int, float, bool, type(None)))}
        return error_body(exc.kind, exc.message, details)["error"]
    return error_body("internal_error", "internal server error: see the server log")["error"]


async def respond(
    request: Request, make: Callable[[CallControl], Iterator[str | Answer]], timeouts: Timeouts,
    finish: Callable[[TurnResult], Message], stream: bool, start: dict[str, Any], heartbeat_s: float = 15.0,
) -> Message | StreamingResponse:
    """Run the answer; return its message, or stream it. An answer that fails before its first
    piece raises its error (an ordinary error response); ``finish`` has stored it by then."""
    relay = Relay(make, timeouts, finish)
    relay.runner.start()
    event = await relay.next_event(request)
    if event[0] == "end":
        message, error = event[1]
        if error is not None:
            raise error
        if not stream:
            return message
    if not stream:
        while event[0] != "end":
            event = await relay.next_event(request)
        message, error = event[1]
        if error is not None:
            raise error
        return message
    return StreamingResponse(_events(relay, event, start, heartbeat_s), media_type=sse.MEDIA_TYPE,
                             headers=sse.HEADERS)


async def _events(relay: Relay, event: Event, start: dict[str, Any], heartbeat_s: float) -> AsyncIterator[bytes]:
    try:
        yield sse.event("start", start)
        while True:
            name, data = event
            if name == "delta":
                yield sse.event("delta", {"text": data})
            else:
                message, error = data
                if message is not None:
                    yield sse.event("citations", {"citations": [c.model_dump(mode="json") for c in message.citations]})
                if error is not None:
                    yield sse.event("error", _error(error))
                if message is not None:
                    yield sse.event("done", message.model_dump(mode="json"))
                return
            while True:
                try:
                    event = await asyncio.wait_for(relay.queue.get(), heartbeat_s)
                    break
                except TimeoutError:
                    yield sse.comment("keep-alive")
    finally:
        relay.runner.cancel.set()  # the client left (or the answer ended): stop generating
