"""A chat model's streamed reply, consumed once for every caller: the text as it comes, then
the whole reply with its finish reason and usage (counted here when the backend reports none)."""

from __future__ import annotations

from collections.abc import Generator, Sequence

from zhiku.llm.base import CallControl, ChatModel, Message, Reply, Usage
from zhiku.schema import GenerationOptions


def stream_reply(
    llm: ChatModel, messages: Sequence[Message], *, max_tokens: int | None = None,
    temperature: float | None = None, control: CallControl | None = None,
    options: GenerationOptions | None = None,
) -> Generator[str, None, Reply]:
    """Yield the reply's text pieces; return the ``Reply``. Use as ``reply = yield from
    stream_reply(...)``. Closing the generator closes the model's stream, which stops the
    generation and its upstream request."""
    parts: list[str] = []
    finish, usage, calls = None, None, None
    deltas = llm.stream(messages, max_tokens=max_tokens, temperature=temperature, control=control, options=options)
    try:
        for delta in deltas:
            if delta.text:
                parts.append(delta.text)
                yield delta.text
            finish = delta.finish_reason or finish
            usage = delta.usage or usage
            calls = delta.tool_calls or calls
    finally:
        deltas.close()
    text = "".join(parts)
    if usage is None:
        usage = Usage(sum(llm.count_tokens(m["content"]) for m in messages), llm.count_tokens(text.strip()))
    return Reply(text, finish, usage, llm.name, calls)


def usage_dict(usage: Usage) -> dict[str, int]:
    """Usage as answers carry it."""
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
