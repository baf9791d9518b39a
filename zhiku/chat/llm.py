"""Plain LLM chat: the conversation so far and the question, no retrieval, no citations.

Earlier turns are fitted into the model's context window with the same budget as KB chat
(``zhiku.chat.budget``): the newest turns are kept whole, the oldest go first.
"""

from __future__ import annotations

from typing import Iterator

from zhiku.chat.budget import fit
from zhiku.chat.generation import deltas
from zhiku.chat.prompts import render
from zhiku.llm.base import CallControl, ChatModel, Message, check_options
from zhiku.llm.streaming import stream_reply, usage_dict
from zhiku.schema import Answer, AnswerEvent, Final, GenerationOptions


class LLMChat:
    def stream(self, llm: ChatModel, question: str, lang: str, turns: list[Message], control: CallControl,
               temperature: float | None = None, system: str | None = None,
               max_tokens: int | None = None, options: GenerationOptions | None = None,
               tool_turns: list[Message] | None = None) -> Iterator[AnswerEvent]:
        """The answer's text, then ``Final``. ``system``: the caller's instructions instead of the
        built-in ones; ``options``: refused here when the model cannot honour one; ``tool_turns``:
        the model's tool calls and their results, sent after the question."""
        check_options(llm, options)
        system = system or render(lang, "llm_system")
        after = tool_turns or []
        reply_room = min(max_tokens or llm.max_tokens, llm.context_window // 2)
        asked = "\n".join([question, *(m["content"] for m in after)])  # what the question block costs
        fitted = fit(llm.count_tokens, llm.context_window, reply_room, system, lambda _: asked, [], turns,
                     history_share=0.9)
        msgs: list[Message] = [{"role": "system", "content": system}, *fitted.history,
                               {"role": "user", "content": question}, *after]
        reply = yield from deltas(stream_reply(llm, msgs, max_tokens=reply_room, temperature=temperature,
                                               control=control, options=options))
        yield Final(answer=Answer(
            answer=reply.text.strip(), found=True, citations=[], lang=lang, mode="llm", model=llm.name,
            finish_reason=reply.finish_reason, usage=usage_dict(reply.usage), dropped_turns=fitted.dropped_turns,
            tool_calls=reply.tool_calls))
