"""A chat model's answer to numbered sources, streamed with its citation markers checked.

Shared by knowledge-base and web-search chat: both prompt with numbered sources and both must
drop citations of sources the model was never given.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from zhiku.chat.citations import StreamChecker
from zhiku.config import LLMSettings
from zhiku.llm.base import CallControl, ChatModel, Message, Timeouts, Usage


@dataclass
class Generated:
    text: str
    cited: list[int]  # source numbers the answer cites, in order of use (all of them when none)
    finish_reason: str | None
    usage: dict[str, int]


def generate_cited(
    llm: ChatModel, messages: list[Message], n_sources: int, settings: LLMSettings,
    control: CallControl | None = None,
) -> Generator[str, None, Generated]:
    """Yield the answer's text as it comes (citations checked); return what it came to.
    Use as ``result = yield from generate_cited(...)``. Closing it stops the model."""
    checker = StreamChecker(range(1, n_sources + 1))
    parts: list[str] = []
    finish, usage = None, None
    control = control or CallControl(getattr(llm, "timeouts", None) or Timeouts(
        settings.connect_timeout_s, settings.read_timeout_s, settings.total_timeout_s))
    stream = llm.stream(messages, control=control)
    try:
        for delta in stream:
            if delta.text:
                out = checker.feed(delta.text)
                if out:
                    parts.append(out)
                    yield out
            finish = delta.finish_reason or finish
            usage = delta.usage or usage
    finally:
        stream.close()  # type: ignore[attr-defined]
    tail = checker.flush()
    if tail:
        parts.append(tail)
        yield tail
    text = "".join(parts).strip()
    if usage is None:
        usage = Usage(sum(llm.count_tokens(m["content"]) for m in messages), llm.count_tokens(text))
    return Generated(text, checker.used or list(range(1, n_sources + 1)), finish,
                     {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens})
