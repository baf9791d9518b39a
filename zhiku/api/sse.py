"""Server-sent events: job progress and streamed answers.

Wire format (text/event-stream), each ``data`` one line of JSON:

- job progress: ``event: progress`` with the job as polled from ``GET /api/jobs/{id}``
  on every change (bursts are coalesced), then one ``event: end`` with the final job;
  ``: keep-alive`` comments while nothing changes.
- answers: ``event: start`` ({lang, mode}), ``event: delta`` ({text}) pieces of the answer
  in order, ``event: citations`` ({citations: [...]}), ``event: done`` (the whole answer).
- chat answers of every mode (``zhiku.api.chat_events``): the same events, ``start`` carrying
  {mode, model, conversation_id, user_message_id} and ``done`` the assistant message, plus
  ``event: error`` ({type, message, details}) before ``done`` when an answer fails after it started.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, AsyncIterator, Iterator

from starlette.concurrency import run_in_threadpool

from zhiku.app import Zhiku
from zhiku.schema.jobs import ACTIVE
from zhiku.schema import Answer

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
MEDIA_TYPE = "text/event-stream"
COALESCE_S = 0.1
_PIECE = re.compile(r"[^。！？；!?;\n]*[。！？；!?;\n]+|[^。！？；!?;\n]+")


def event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode("utf-8")


def comment(text: str) -> bytes:
    return f": {text}\n\n".encode("utf-8")


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


def answer_events(answer: Answer) -> Iterator[bytes]:
    yield event("start", {"lang": answer.lang, "mode": answer.mode, "found": answer.found})
    for piece in _PIECE.findall(answer.answer):
        yield event("delta", {"text": piece})
    yield event("citations", {"citations": [c.model_dump(mode="json") for c in answer.citations]})
    yield event("done", answer.model_dump(mode="json"))


SSE_RESPONSE = {
    "description": "a text/event-stream (see the event names in the route's description)",
    "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
}
