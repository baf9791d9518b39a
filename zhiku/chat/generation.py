"""A chat model's answer to numbered sources, streamed with its citation markers checked.

Shared by knowledge-base and web-search chat: both prompt with numbered sources and both must
drop citations of sources the model was never given.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TypeVar

from zhiku.chat.citations import StreamChecker
from zhiku.llm.base import CallControl, ChatModel, Message
from zhiku.llm.streaming import stream_reply, usage_dict
from zhiku.schema import Delta

R = TypeVar("R")


@dataclass
class Generated:
    text: str
    cited: list[int]  # source numbers the answer cites, in order of use (all of them when none)
    finish_reason: str | None
    usage: dict[str, int]


def generate_cited(
    llm: ChatModel, messages: list[Message], n_sources: int, control: CallControl,
    temperature: float | None = None,
) -> Generator[str, None, Generated]:
    """Yield the answer's text as it comes (citations checked); return what it came to.
    Use as ``result = yield from generate_cited(...)``. Closing it stops the model."""
    checker = StreamChecker(range(1, n_sources + 1))
    parts: list[str] = []
    pieces = stream_reply(llm, messages, temperature=temperature, control=control)
    try:
        while True:
            try:
                piece = next(pieces)
            except StopIteration as end:
                reply = end.value
                break
            out = checker.feed(piece)
            if out:
                parts.append(out)
                yield out
    finally:
        pieces.close()
    tail = checker.flush()
    if tail:
        parts.append(tail)
        yield tail
    return Generated("".join(parts).strip(), checker.used or list(range(1, n_sources + 1)), reply.finish_reason,
                     usage_dict(reply.usage))


def deltas(pieces: Generator[str, None, R]) -> Generator[Delta, None, R]:
    """The pieces of a text generator as ``Delta`` events, keeping what it returns; closing this
    closes it (and so stops the model)."""
    try:
        while True:
            try:
                piece = next(pieces)
            except StopIteration as end:
                return end.value
            yield Delta(text=piece)
    finally:
        pieces.close()
