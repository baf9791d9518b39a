"""Plain LLM chat: the conversation so far and the question, no retrieval, no citations.

Earlier turns are fitted into the model's context window with the same budget as KB chat
(``zhiku.chat.budget``): the newest turns are kept whole, the oldest go first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

from zhiku.chat.budget import fit
from zhiku.chat.kb import ChatAnswer, normalize_history
from zhiku.chat.prompts import render
from zhiku.errors import InvalidInput, Unavailable
from zhiku.llm.base import CallControl, Message, Timeouts, Usage
from zhiku.schema import Answer

if TYPE_CHECKING:
    from zhiku.app import Zhiku


class LLMChat:
    def __init__(self, app: "Zhiku") -> None:
        self.app = app

    def model_name(self, model: str | None) -> str:
        name = model or self.app.chat_models.default_name()
        if name is None:
            raise Unavailable("no chat model is configured: set llm.default (or name a model) for LLM chat; "
                              "see `zhiku models`")
        return name

    def stream(
        self, question: str, history: Sequence[Any] | None = None, model: str | None = None,
        temperature: float | None = None, control: CallControl | None = None, system: str | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str | Answer]:
        """Yield text deltas, then the final ``ChatAnswer`` (always last). ``system``: the caller's
        instructions instead of the built-in ones."""
        from zhiku.text.normalize import detect_lang

        if not question or not question.strip():
            raise InvalidInput("the question is empty")
        turns = normalize_history(history)
        llm = self.app.chat_models.get(self.model_name(model))
        lang = detect_lang(question)
        system = system or render(lang, "llm_system")
        reply = min(max_tokens or llm.max_tokens, llm.context_window // 2)
        fitted = fit(llm.count_tokens, llm.context_window, reply, system, lambda _: question, [], turns,
                     history_share=0.9)
        msgs: list[Message] = [{"role": "system", "content": system}, *fitted.history,
                               {"role": "user", "content": question}]
        settings = self.app.settings.llm
        control = control or CallControl(getattr(llm, "timeouts", None) or Timeouts(
            settings.connect_timeout_s, settings.read_timeout_s, settings.total_timeout_s))
        parts: list[str] = []
        finish, usage = None, None
        deltas = llm.stream(msgs, max_tokens=reply, temperature=temperature, control=control)
        try:
            for delta in deltas:
                if delta.text:
                    parts.append(delta.text)
                    yield delta.text
                finish = delta.finish_reason or finish
                usage = delta.usage or usage
        finally:
            deltas.close()  # type: ignore[attr-defined]
        text = "".join(parts).strip()
        if usage is None:
            usage = Usage(sum(llm.count_tokens(m["content"]) for m in msgs), llm.count_tokens(text))
        yield ChatAnswer(
            answer=text, found=True, citations=[], lang=lang, mode="llm", model=llm.name, finish_reason=finish,
            usage={"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens},
            dropped_turns=fitted.dropped_turns,
        )
