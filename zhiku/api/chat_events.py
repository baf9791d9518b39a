"""The one way an answer travels over HTTP, for every face (/api/ask, /api/chat, conversations,
/v1, the Chatchat routes): the answer pipeline's events run on their own thread
(``zhiku.chat.turns``) and this module relays them, so a client that goes away stops the
answer (the model call is cancelled, the upstream request closed) and what ``finish`` does
with the result (a conversation stores the partial answer, marked ``stopped``) still happens.

An answer that fails before its first piece of text is an ordinary error response; after
that, each face's ``Encoder`` says how the error travels. While nothing happens the stream
carries ``: keep-alive`` comments every ``server.sse_heartbeat_s``. Each face only writes an
``Encoder``: the bytes its wire format makes of each event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from fastapi import Request
from fastapi.responses import StreamingResponse

from zhiku.api import sse
from zhiku.chat.pipeline import Answering
from zhiku.chat.turns import Ended, TurnResult, TurnRunner
from zhiku.llm.base import CallControl, Timeouts
from zhiku.errors import ZhikuError
from zhiku.schema import Answer, AnswerEvent, ApprovalRequest, Delta, Notice, Retrieved, ToolStep

log = logging.getLogger(__name__)
DISCONNECT_POLL_S = 0.5
T = TypeVar("T")
Item = AnswerEvent | Ended[Any]


class Encoder(Protocol):
    """A face's wire format: bytes before the first event, for each event, and at the end."""

    def head(self) -> Iterable[bytes]: ...

    def event(self, event: AnswerEvent) -> Iterable[bytes]: ...

    def end(self, ended: Ended[Any]) -> Iterable[bytes]: ...


class Relay(Generic[T]):
    """Runs an answer on its thread and hands its events to the event loop."""

    def __init__(self, make: Callable[[CallControl], Answering], timeouts: Timeouts,
                 finish: Callable[[TurnResult], T]) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.runner: TurnRunner[T] = TurnRunner(make, timeouts, finish, self._emit)
        self.checked = time.monotonic()  # when the client's connection was last checked
        self.runner.start()

    def _emit(self, item: Item) -> None:  # called on the answer's thread
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (server shutting down)
            self.runner.cancel.set()

    def stop(self) -> None:
        self.runner.cancel.set()

    async def next(self, request: Request) -> Item:
        """The next event; stops the answer if the client leaves while it waits."""
        while True:
            if time.monotonic() - self.checked >= DISCONNECT_POLL_S:
                self.checked = time.monotonic()
                if await request.is_disconnected():
                    self.stop()  # the answer ends soon, stopped, with its Ended
            try:  # an event already there is taken without a timed wait (a task and a timer per event)
                return self.queue.get_nowait()
            except asyncio.QueueEmpty:
                pass
            try:
                return await asyncio.wait_for(self.queue.get(), DISCONNECT_POLL_S)
            except TimeoutError:
                continue

    async def opening(self, request: Request) -> list[Item]:
        """The events up to the first piece of text, tool call or approval request (or the end). An
        answer that failed before it raises its error here, as an ordinary error response."""
        items: list[Item] = []
        while True:
            item = await self.next(request)
            items.append(item)
            if isinstance(item, Ended):
                if item.error is not None:
                    raise item.error
                return items
            if isinstance(item, (Delta, Notice, ToolStep, ApprovalRequest)):  # the answer is under way
                return items

    async def outcome(self, request: Request) -> T:
        """What ``finish`` made of the whole answer (a JSON reply); its error raises."""
        while not isinstance(item := await self.next(request), Ended):
            pass
        if item.error is not None:
            raise item.error
        if item.outcome is None:  # finish made nothing and said no error: a bug, reported as one
            raise ZhikuError("the answer ended without a result")
        return item.outcome

    def stream(self, opening: list[Item], encoder: Encoder, heartbeat_s: float) -> StreamingResponse:
        return StreamingResponse(self._bytes(opening, encoder, heartbeat_s), media_type=sse.MEDIA_TYPE,
                                 headers=sse.HEADERS)

    async def _bytes(self, opening: list[Item], encoder: Encoder, heartbeat_s: float) -> AsyncIterator[bytes]:
        try:
            for chunk in encoder.head():
                yield chunk
            pending = list(opening)
            while True:
                if pending:
                    item = pending.pop(0)
                elif not self.queue.empty():
                    item = self.queue.get_nowait()
                else:
                    try:
                        item = await asyncio.wait_for(self.queue.get(), heartbeat_s)
                    except TimeoutError:
                        yield sse.comment("keep-alive")
                        continue
                if isinstance(item, Ended):
                    for chunk in encoder.end(item):
                        yield chunk
                    return
                for chunk in encoder.event(item):
                    yield chunk
        finally:
            self.stop()  # the client left (or the answer ended): stop generating


async def respond(request: Request, make: Callable[[CallControl], Answering], timeouts: Timeouts,
                  finish: Callable[[TurnResult], T], stream: bool, encoder: Callable[[list[Item]], Encoder],
                  heartbeat_s: float) -> T | StreamingResponse:
    """Run the answer; return what ``finish`` made of it, or stream it through the face's encoder
    (``encoder(opening)`` sees the events that came before the first piece of text, e.g. the
    retrieved passages a face shows first)."""
    if not stream:
        return await run_whole(request, make, timeouts, finish)
    relay = Relay(make, timeouts, finish)
    try:
        opening = await relay.opening(request)
    except BaseException:
        relay.stop()
        raise
    return relay.stream(opening, encoder(opening), heartbeat_s)


def whole(result: TurnResult) -> TurnResult:
    """A ``finish`` that keeps the whole result (faces that store nothing)."""
    return result


async def run_whole(request: Request, make: Callable[[CallControl], Answering], timeouts: Timeouts,
                    finish: Callable[[TurnResult], T]) -> T:
    """Run the answer to its end (a JSON reply); what ``finish`` made of it, or its error."""
    relay = Relay(make, timeouts, finish)
    try:
        return await relay.outcome(request)
    finally:
        relay.stop()


def answer_of(result: TurnResult) -> Answer:
    """The answer of a run that ended (a JSON reply): it raises when there is none."""
    if result.answer is None:
        raise ZhikuError("the answer was stopped before it ended")
    return result.answer


def retrieved_in(opening: list[Item]) -> Retrieved | None:
    """The passages retrieved, among the events that came before the answer's first piece."""
    return next((e for e in opening if isinstance(e, Retrieved)), None)


def text_of(event: AnswerEvent) -> str:
    """The text a stream shows for an event (a notice, or a piece of the answer); '' for others."""
    return event.shown if isinstance(event, (Delta, Notice)) else ""


class ChatEncoder:
    """The chat event stream of ``zhiku.client.chat_routes``: start, then tool_step (each tool call of an
    agent answer as it ends: ``zhiku.schema.ToolStep``), approval_request (a call waiting for the user:
    ``zhiku.schema.ApprovalRequest``) and delta... as they come, citations, error,
    done (the assistant Message, as stored, with its trace)."""

    def __init__(self, start: dict[str, Any]) -> None:
        self.start = start

    def head(self) -> Iterable[bytes]:
        yield sse.event("start", self.start)

    def event(self, event: AnswerEvent) -> Iterable[bytes]:
        if isinstance(event, ToolStep):
            yield sse.event("tool_step", event.model_dump(mode="json"))
        elif isinstance(event, ApprovalRequest):
            yield sse.event("approval_request", event.model_dump(mode="json"))
        elif text := text_of(event):
            yield sse.event("delta", {"text": text})

    def end(self, ended: Ended[Any]) -> Iterable[bytes]:
        message = ended.outcome
        if message is not None:
            yield sse.event("citations", {"citations": [c.model_dump(mode="json") for c in message.citations]})
        if ended.error is not None:
            yield sse.event("error", sse.error_fields(ended.error))
        if message is not None:
            yield sse.event("done", message.model_dump(mode="json"))
