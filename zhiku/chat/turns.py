"""One answer run on its own thread, so that a face (the API's event streams) can follow it,
stop it, and have it stored whatever happens: finished, stopped by the user, or failed.

The runner reports ``("delta", text)`` for each piece of the answer, then one
``("end", (message, error))`` with what ``finish`` made of the result (the stored
assistant message in a conversation). Setting ``cancel`` stops the generation: the model
call is cancelled, the answer's iterator is closed (which closes the upstream request),
and the partial answer ends with status ``stopped``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from zhiku.errors import Cancelled, ZhikuError
from zhiku.llm.base import CallControl, Timeouts
from zhiku.schema import Answer

log = logging.getLogger(__name__)

Emit = Callable[[str, Any], None]


@dataclass
class TurnResult:
    text: str
    answer: Answer | None
    status: str  # complete | stopped | error
    error: ZhikuError | None
    latency_ms: int


class TurnRunner:
    def __init__(self, make: Callable[[CallControl], Iterator[str | Answer]], timeouts: Timeouts,
                 finish: Callable[[TurnResult], Any], emit: Emit) -> None:
        self.make, self.timeouts, self.finish, self.emit = make, timeouts, finish, emit
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, name="zhiku-chat", daemon=True)

    def start(self) -> "TurnRunner":
        self.thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        control = CallControl(self.timeouts, cancel=self.cancel)
        parts: list[str] = []
        final: Answer | None = None
        error: ZhikuError | None = None
        items: Iterator[str | Answer] | None = None
        try:
            items = self.make(control)
            for item in items:
                if isinstance(item, Answer):
                    final = item
                elif item:
                    parts.append(item)
                    self.emit("delta", item)
                if self.cancel.is_set():
                    break
        except Cancelled:
            pass
        except ZhikuError as exc:
            error = exc
        except Exception as exc:  # a bug must end the turn with a stored error, not kill the thread silently
            log.exception("chat turn failed")
            error = ZhikuError(f"the answer failed: {type(exc).__name__}: {exc}")
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                try:
                    close()  # stops the model's generation and its upstream request
                except Exception:
                    log.debug("closing the answer failed", exc_info=True)
        stopped = self.cancel.is_set() and final is None
        status = "error" if error is not None else "stopped" if stopped else "complete"
        text = final.answer if final is not None and status == "complete" else "".join(parts).strip()
        result = TurnResult(text, final, status, error, int((time.monotonic() - started) * 1000))
        try:
            self.emit("end", (self.finish(result), error))
        except Exception as exc:  # storing failed: still end the stream, with the reason
            log.exception("storing a chat answer failed")
            self.emit("end", (None, exc if isinstance(exc, ZhikuError) else ZhikuError(str(exc))))


def reply_fields(result: TurnResult, mode: str, model: str) -> dict[str, Any]:
    """What to store of an answer: text, status, citations, latency, usage, error and details."""
    a = result.answer
    meta: dict[str, Any] = {}
    if a is not None:
        meta.update(found=a.found, lang=a.lang, best_score=a.best_score)
        for key in ("warning", "finish_reason", "dropped_sources", "dropped_turns"):
            if getattr(a, key, None):
                meta[key] = getattr(a, key)
    if result.error is not None:
        meta["error_type"] = result.error.kind
    complete = a is not None and result.status == "complete"
    return {
        "content": result.text, "mode": mode, "model": (getattr(a, "model", None) if a is not None else None) or (
            "extractive" if a is not None and a.mode == "extractive" else model),
        "status": result.status, "citations": list(a.citations) if complete else [],
        "latency_ms": result.latency_ms, "usage": getattr(a, "usage", None) if a is not None else None,
        "error": result.error.message if result.error is not None else None, "meta": meta,
    }
