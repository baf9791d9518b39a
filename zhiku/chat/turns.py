"""One answer run on its own thread, so that a face (the API's event streams) can follow it,
stop it, and have it stored whatever happens: finished, stopped by the user, or failed.

The runner reports each of the pipeline's events as it comes, then one ``Ended`` with what
``finish`` made of the result (the stored assistant message in a conversation). Setting
``cancel`` stops the generation: the model call is cancelled, the answer's iterator is closed
(which closes the upstream request), and the partial answer ends with status ``stopped``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Generator, Generic, TypeVar

from zhiku.errors import Cancelled, ZhikuError
from zhiku.llm.base import CallControl, Timeouts
from zhiku.schema import Answer, AnswerEvent, Delta, Final, Notice, Retrieved, ToolStep

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class TurnResult:
    text: str
    answer: Answer | None
    status: str  # complete | stopped | error
    error: ZhikuError | None
    latency_ms: int
    retrieved: Retrieved | None = None
    trace: list[ToolStep] | None = None  # agent answers: the tool calls made (kept when the answer stops)


@dataclass
class Ended(Generic[T]):
    """The last thing a runner reports: what ``finish`` made of the result, and the error."""

    outcome: T | None
    error: ZhikuError | None


class TurnRunner(Generic[T]):
    def __init__(self, make: Callable[[CallControl], Generator[AnswerEvent, None, None]], timeouts: Timeouts,
                 finish: Callable[[TurnResult], T], emit: Callable[[AnswerEvent | Ended[T]], None]) -> None:
        self.make, self.timeouts, self.finish, self.emit = make, timeouts, finish, emit
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, name="zhiku-chat", daemon=True)

    def start(self) -> "TurnRunner[T]":
        self.thread.start()
        return self

    def _run(self) -> None:
        started = time.monotonic()
        control = CallControl(self.timeouts, cancel=self.cancel)
        parts: list[str] = []
        final: Answer | None = None
        retrieved: Retrieved | None = None
        trace: list[ToolStep] = []
        error: ZhikuError | None = None
        events: Generator[AnswerEvent, None, None] | None = None
        try:
            events = self.make(control)
            for event in events:
                if isinstance(event, Final):
                    final = event.answer
                elif isinstance(event, Retrieved):
                    retrieved = event
                elif isinstance(event, ToolStep):
                    trace.append(event)
                elif isinstance(event, (Delta, Notice)):
                    if not event.text:
                        continue
                    parts.append(event.shown)
                self.emit(event)
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
            if events is not None:
                try:
                    events.close()  # stops the model's generation and its upstream request
                except Exception:
                    log.debug("closing the answer failed", exc_info=True)
        stopped = self.cancel.is_set() and final is None
        status = "error" if error is not None else "stopped" if stopped else "complete"
        text = final.answer if final is not None and status == "complete" else "".join(parts).strip()
        result = TurnResult(text, final, status, error, int((time.monotonic() - started) * 1000), retrieved,
                            trace or None)
        try:
            self.emit(Ended(self.finish(result), error))
        except Exception as exc:  # storing failed: still end the stream, with the reason
            log.exception("storing a chat answer failed")
            self.emit(Ended(None, exc if isinstance(exc, ZhikuError) else ZhikuError(str(exc))))


def reply_fields(result: TurnResult, mode: str, model: str) -> dict[str, Any]:
    """What to store of an answer: text, status, citations, latency, usage, error and details.
    ``model``: what was to answer (stored when no answer says who did)."""
    a = result.answer
    meta: dict[str, Any] = {}
    if a is not None:
        meta.update(found=a.found, lang=a.lang, best_score=a.best_score)
        for key, value in (("warning", a.warning), ("finish_reason", a.finish_reason),
                           ("dropped_sources", a.dropped_sources), ("dropped_turns", a.dropped_turns)):
            if value:
                meta[key] = value
        if a.kbs:  # a routed question: the KBs it went to
            meta["kbs"] = a.kbs
    if result.error is not None:
        meta["error_type"] = result.error.kind
    complete = a is not None and result.status == "complete"
    answered_by = (a.model or ("extractive" if a.mode == "extractive" else None)) if a is not None else None
    return {
        "content": result.text, "mode": mode, "model": answered_by or model,
        "status": result.status, "citations": list(a.citations) if complete and a is not None else [],
        "latency_ms": result.latency_ms, "usage": a.usage if a is not None else None,
        "error": result.error.message if result.error is not None else None, "meta": meta,
        "trace": result.trace,
    }
