"""Answers as OpenAI's ``chat.completion`` (JSON) or its stream of ``chat.completion.chunk``
objects, one choice per answer (``n``): tool calls in OpenAI's shape (``message.tool_calls``;
``delta.tool_calls`` when streamed), ``finish_reason`` ``tool_calls``, ``length`` or ``stop``, the
cut that ``stop``/``max_tokens`` make in a KB answer, and ``citations`` beside the choices.

Streamed, the choices follow one another (each a whole answer, chunks tagged with its ``index``);
the usage chunk (``stream_options.include_usage``) and ``data: [DONE]`` come after the last."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Iterator

from fastapi.responses import StreamingResponse

from zhiku.api.chat_events import text_of
from zhiku.api.openai_wire import Cut, count_tokens
from zhiku.chat.turns import Ended, TurnResult
from zhiku.errors import ZhikuError
from zhiku.schema import Answer, AnswerEvent


# where a sentence ends: 。！？；!?; with any closing quote or bracket and citation markers ([1]) right
# after; a period, colon or ellipsis (and markers) before a space; line breaks
_SENTENCE_END = re.compile(r"[。！？；!?;]+[”’」』）)\"']*(?:\[\d+\])*|[.:…]+[\"”’)]*(?:\[\d+\])*(?=\s)|\n+")


def sentences(text: str) -> list[str]:
    """``text`` cut into its sentences, every character kept (``"".join(sentences(t)) == t``)."""
    pieces, start = [], 0
    for end in _SENTENCE_END.finditer(text):
        if end.end() > start:
            pieces.append(text[start:end.end()])
            start = end.end()
    return pieces + ([text[start:]] if start < len(text) else [])


def usage(prompt: str, completion: str, answer: Answer | None = None) -> dict[str, int]:
    """The model's own count when it reported one (and the text was not cut), else an estimate."""
    reported = answer.usage if answer is not None else None
    if reported is not None and {"prompt_tokens", "completion_tokens"} <= set(reported):
        p, c = int(reported["prompt_tokens"]), int(reported["completion_tokens"])
    else:
        p, c = count_tokens(prompt), count_tokens(completion)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def finish_reason(answer: Answer, cut: Cut | None = None) -> str:
    if cut is not None and cut.reason is not None:
        return cut.reason
    if answer.tool_calls:
        return "tool_calls"
    return answer.finish_reason if answer.finish_reason in ("length", "content_filter") else "stop"


def tool_calls(answer: Answer, stream: bool = False) -> list[dict[str, Any]]:
    return [{"index": i, **c} if stream else dict(c) for i, c in enumerate(answer.tool_calls or [])]


def citations(answer: Answer | None) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in answer.citations] if answer is not None else []


class Completion:
    """The answers to one request: ``choices[i]`` encodes answer i."""

    def __init__(self, model: str, prompt: str, include_usage: bool, n: int, cut: Cut | None) -> None:
        self.id, self.created, self.model = "chatcmpl-" + uuid.uuid4().hex, int(time.time()), model
        self.prompt, self.include_usage = prompt, include_usage
        self.choices = [Choice(self, i, i == n - 1, None if cut is None else Cut(cut.stop, cut.max_tokens))
                        for i in range(n)]

    def json(self) -> dict[str, Any]:
        """The ``chat.completion`` of answers that all ended (``Choice.answer`` set)."""
        bodies, usages = zip(*(c.whole() for c in self.choices))
        prompt = usages[0]["prompt_tokens"]
        completion = sum(u["completion_tokens"] for u in usages)
        return {"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
                "choices": list(bodies), "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                                   "total_tokens": prompt + completion},
                "citations": citations(self.choices[0].answer)}

    def line(self, body: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(body, ensure_ascii=False, default=str)}\n\n".encode("utf-8")

    def chunk(self, index: int, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return self.line({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                          "model": self.model, "choices": [{"index": index, "delta": delta, "logprobs": None,
                                                            "finish_reason": finish}], **extra})

    def closing(self) -> Iterator[bytes]:
        """After the last choice: the usage chunk (when asked for) and ``[DONE]``."""
        if self.include_usage:
            counted = [usage(self.prompt, "".join(c.text), c.counted()) for c in self.choices]
            prompt = counted[0]["prompt_tokens"]
            completion = sum(u["completion_tokens"] for u in counted)
            yield self.line({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                             "model": self.model, "choices": [],
                             "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                       "total_tokens": prompt + completion}})
        yield b"data: [DONE]\n\n"

    async def stream(self, first: StreamingResponse,
                     answer: Callable[["Choice"], Awaitable[StreamingResponse]]) -> AsyncIterator[bytes]:
        """The chunks of every choice in turn: ``first`` is choice 0's stream, already under way;
        ``answer(choice)`` starts the next one. A later answer that fails before its first piece
        ends its choice with the error."""
        response: StreamingResponse | None = first
        for choice in self.choices:
            if choice.index:
                try:
                    response = await answer(choice)
                except ZhikuError as exc:
                    response = None
                    yield self.chunk(choice.index, {}, "stop", error={
                        "type": exc.kind, "message": exc.message, "code": exc.kind, "param": None})
                    if choice.last:
                        for line in self.closing():
                            yield line
            if response is None:
                continue
            body = response.body_iterator
            try:
                async for piece in body:
                    yield piece if isinstance(piece, bytes) else str(piece).encode("utf-8")
            finally:
                close = getattr(body, "aclose", None)
                if close is not None:
                    await close()  # a client that left stops this answer too


class Choice:
    """One answer as a choice: the JSON body, or the stream encoder of ``chat_events.respond``."""

    def __init__(self, completion: Completion, index: int, last: bool, cut: Cut | None) -> None:
        self.completion, self.index, self.last, self.cut = completion, index, last, cut
        self.text: list[str] = []
        self.answer: Answer | None = None

    def counted(self) -> Answer | None:
        """The answer whose reported usage counts (not when its text was cut)."""
        return self.answer if self.cut is None or self.cut.reason is None else None

    def whole(self) -> tuple[dict[str, Any], dict[str, int]]:
        answer = self.answer
        assert answer is not None
        content = self.cut.whole(answer.answer) if self.cut is not None else answer.answer
        message: dict[str, Any] = {"role": "assistant", "content": content or (None if answer.tool_calls else "")}
        if answer.tool_calls:
            message["tool_calls"] = tool_calls(answer)
        body = {"index": self.index, "message": message, "logprobs": None,
                "finish_reason": finish_reason(answer, self.cut)}
        return body, usage(self.completion.prompt, content, self.counted())

    # -- the stream encoder -----------------------------------------------------------------------
    def head(self) -> Iterator[bytes]:
        yield self.completion.chunk(self.index, {"role": "assistant", "content": ""})

    def _shown(self, piece: str, last: bool = False) -> Iterator[bytes]:
        if self.cut is not None:
            piece = self.cut.feed(piece, last)
        if piece:
            self.text.append(piece)
            yield self.completion.chunk(self.index, {"content": piece})

    def event(self, event: AnswerEvent) -> Iterator[bytes]:
        # a model's deltas are a few tokens; an extractive answer (no model) comes as one: either goes
        # out sentence by sentence, as a client reading a stream expects
        for piece in sentences(text_of(event) or ""):
            yield from self._shown(piece)

    def end(self, ended: Ended[TurnResult]) -> Iterator[bytes]:
        final = ended.outcome.answer if ended.outcome is not None else None
        self.answer = final
        yield from self._shown("", last=True)
        if final is not None and final.tool_calls:
            yield self.completion.chunk(self.index, {"tool_calls": tool_calls(final, stream=True)})
        extra: dict[str, Any] = {"citations": citations(final)}
        if ended.error is not None:  # failed mid-answer: the error travels in the choice's last chunk
            extra["error"] = {"type": ended.error.kind, "message": ended.error.message, "code": ended.error.kind,
                              "param": None}
        yield self.completion.chunk(self.index, {}, finish_reason(final, self.cut) if final is not None else "stop",
                                    **extra)
        if self.last:
            yield from self.completion.closing()
