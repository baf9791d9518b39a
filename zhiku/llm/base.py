"""The chat-model protocol: messages in, streamed text deltas out.

Every backend (OpenAI-compatible server, in-process llama.cpp) implements
``ChatModel``. A call is bounded by three timeouts (connect, silence between
bytes or tokens, whole reply) and can be cancelled from another thread; every
failure is one of the typed errors of ``zhiku.errors``.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, NotRequired, Protocol, Sequence, TypedDict, runtime_checkable

from zhiku.errors import Cancelled, InvalidInput, ModelTimeout
from zhiku.schema import GenerationOptions

Role = Literal["system", "user", "assistant", "tool"]


class Message(TypedDict):
    role: Role
    content: str
    tool_calls: NotRequired[list[dict[str, Any]]]  # an assistant's calls of the tools it was given
    tool_call_id: NotRequired[str]  # a tool message: the call it answers


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Delta:
    """One piece of a streamed reply. The last one carries ``finish_reason`` and, when the
    backend reports it, ``usage``."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: list[dict[str, Any]] | None = None  # whole calls (OpenAI's shape), on the last delta


@dataclass
class Reply:
    text: str
    finish_reason: str | None
    usage: Usage
    model: str
    tool_calls: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 60.0  # longest silence: before the first token and between two
    total: float = 300.0


@dataclass
class CallControl:
    """The budget and cancel switch of one call; shared with the thread doing the work."""

    timeouts: Timeouts
    cancel: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float:
        return self.started + self.timeouts.total

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check(self, model: str) -> None:
        """Raise when the call was cancelled or ran out of time."""
        if self.cancel.is_set():
            raise Cancelled(f"the request to model '{model}' was cancelled", model=model)
        if time.monotonic() >= self.deadline:
            raise ModelTimeout(
                f"model '{model}' did not finish its reply within {self.timeouts.total:g} s",
                model=model, timeout=self.timeouts.total, phase="total",
            )


class ReplyStream(Protocol):
    """A reply being generated: an iterator of ``Delta``s that can be closed early (a generator is
    one). Closing it stops the generation and frees the model for the next caller."""

    def __iter__(self) -> Iterator[Delta]: ...

    def __next__(self) -> Delta: ...

    def close(self) -> None: ...


@runtime_checkable
class ChatModel(Protocol):
    """``timeouts`` bound a call made without its own ``CallControl``; callers that build one
    (to cancel it) take its budget from here."""

    name: str
    context_window: int
    max_tokens: int
    timeouts: Timeouts
    options: frozenset[str]  # the GenerationOptions fields this model honours; it refuses the others

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int | None = None, temperature: float | None = None,
        control: CallControl | None = None, options: GenerationOptions | None = None,
    ) -> ReplyStream:
        """Yield the reply as it is generated. Closing the stream stops the generation."""
        ...

    def count_tokens(self, text: str) -> int:
        ...

    def ping(self) -> str | None:
        """None when the model can answer, else a short reason."""
        ...

    def close(self) -> None:
        """Release the model (connections, a loaded GGUF file); it is not used again."""
        ...


def check_options(model: ChatModel, options: GenerationOptions | None) -> None:
    """Refuse (400, naming the parameter) the options ``model`` cannot honour."""
    for name in options.given() if options is not None else []:
        if name not in model.options:
            raise InvalidInput(f"chat model '{model.name}' cannot honour '{name}' (it supports: "
                               f"{', '.join(sorted(model.options)) or 'none of stop, seed, response_format, tools'})",
                               param=name, model=model.name)


def complete(
    model: ChatModel, messages: Sequence[Message], *, max_tokens: int | None = None,
    temperature: float | None = None, control: CallControl | None = None,
) -> Reply:
    """The whole reply of a streamed call (consumed as every caller consumes one:
    ``zhiku.llm.streaming.stream_reply``)."""
    from zhiku.llm.streaming import stream_reply

    pieces = stream_reply(model, messages, max_tokens=max_tokens, temperature=temperature, control=control)
    while True:
        try:
            next(pieces)
        except StopIteration as end:
            return end.value


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate that errs high: about one token per CJK character and
    per 3.5 other characters (Qwen, Llama and GPT tokenizers all fit under it)."""
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    return cjk + int((len(text) - cjk) / 3.5) + 1
