"""Server-sent events: job progress and streamed answers.

Wire format (text/event-stream), each ``data`` one line of JSON:

- job progress: ``event: progress`` with the job as polled from ``GET /api/jobs/{id}``
  on every change (bursts are coalesced), then one ``event: end`` with the final job;
  ``: keep-alive`` comments while nothing changes.
- answers (``/api/ask``, ``AskEncoder``): ``event: start`` ({lang, mode, found}), ``event: delta``
  ({text}) pieces of the answer in order, ``event: citations`` ({citations: [...]}), ``event: done``
  (the whole answer); ``event: error`` when it fails after it started.
- chat answers of every mode (``zhiku.api.chat_events``): the same events, ``start`` carrying
  {mode, model, conversation_id, user_message_id} and ``done`` the assistant message, plus
  ``event: error`` ({type, message, details}) before ``done`` when an answer fails after it started.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Iterator

from starlette.concurrency import run_in_threadpool

from zhiku.api.errors import error_body
from zhiku.app import Zhiku
from zhiku.errors import ZhikuError
from zhiku.schema.jobs import ACTIVE
from zhiku.schema import AnswerEvent, Delta, Final, Notice, Retrieved

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MEDIA_TYPE = "text/event-stream"
COALESCE_S = 0.1


def event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode("utf-8")


def comment(text: str) -> bytes:
    return f": {text}\n\n".encode("utf-8")


def error_fields(exc: BaseException) -> dict[str, Any]:
    """An error as the one error shape's inner object ({type, message, details})."""
    if isinstance(exc, ZhikuError):
        details = {k: v for k, v in exc.details.items() if isinstance(v, (str, int, float, bool, type(None)))}
        return error_body(exc.kind, exc.message, details)["error"]
    return error_body("internal_error", "internal server error: see the server log")["error"]


async def job_events(zhiku: Zhiku, job_id: str, heartbeat_s: float) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def notify() -> None:  # called from an ingestion thread
        loop.call_soon_threadsafe(changed.set)

    unsubscribe = zhiku.watch_job(job_id, notify)
    try:
        last: dict[str, Any] | None = None
        while True:
            changed.clear()
            job = (await run_in_threadpool(zhiku.job, job_id)).model_dump(mode="json")
            if job["status"] not in ACTIVE:
                yield event("end", job)
                return
            if job != last:
                yield event("progress", job)
                last = job
            try:
                await asyncio.wait_for(changed.wait(), heartbeat_s)
            except TimeoutError:
                yield comment("keep-alive")
            await asyncio.sleep(COALESCE_S)
    finally:
        unsubscribe()


class AskEncoder:
    """``/api/ask``'s stream: start ({lang, mode, found}, once the passages are found), delta...,
    citations, done (the Answer), and error ({type, message, details}) when the answer fails after
    it started."""

    def __init__(self) -> None:
        self.started = False

    def _start(self, lang: str, found: bool) -> Iterator[bytes]:
        if not self.started:
            self.started = True
            yield event("start", {"lang": lang, "mode": "extractive", "found": found})

    def head(self) -> Iterator[bytes]:
        return iter(())

    def event(self, item: AnswerEvent) -> Iterator[bytes]:
        if isinstance(item, Retrieved):
            yield from self._start(item.lang, item.found)
        elif isinstance(item, (Delta, Notice)) and item.text:
            yield event("delta", {"text": item.shown})
        elif isinstance(item, Final):
            yield from self._start(item.answer.lang, item.answer.found)
            yield event("citations", {"citations": [c.model_dump(mode="json") for c in item.answer.citations]})
            yield event("done", item.answer.model_dump(mode="json"))

    def end(self, ended: Any) -> Iterator[bytes]:
        if ended.error is not None:
            yield event("error", error_fields(ended.error))


SSE_RESPONSE = {
    "description": "a text/event-stream (see the event names in the route's description)",
    "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
}
