"""Knowledge-base answers from the passages the pipeline retrieved: prompt a chat model with
numbered sources, stream its answer with citations checked, end with the ``Answer``.

With no chat model the extractive answerer answers. Grounding: when the best passage's
relevance (the extractive answerer's estimate) is under ``retrieval.relevance_floor``, strict
grounding replies that the KB has no answer without calling the model; lenient lets the model
answer, with a visible warning ahead of its text.
"""

from __future__ import annotations

from collections.abc import Iterator

from zhiku.chat.budget import Fitted, fit
from zhiku.chat.context import ContextWidener
from zhiku.chat.evidence import Evidence
from zhiku.chat.generation import deltas, generate_cited
from zhiku.chat.prompts import render
from zhiku.config import LLMSettings
from zhiku.llm.base import CallControl, ChatModel, Message
from zhiku.llm.extractive import ExtractiveAnswerer
from zhiku.schema import Answer, AnswerEvent, Citation, Delta, Final, Hit, Notice


def _where(hit: Hit) -> str:
    bits = [hit.file]
    if hit.page:
        bits.append(f"p.{hit.page}")
    if hit.section:
        bits.append(hit.section)
    return " · ".join(bits)


class KBChat:
    def __init__(self, llm: LLMSettings, extractive: ExtractiveAnswerer, context: ContextWidener | None = None) -> None:
        """``context``: widens the passages the extractive answer and the model's prompt read (zhiku.chat.context)."""
        self.settings, self.extractive, self.context = llm, extractive, context

    def stream(self, ev: Evidence, llm: ChatModel | None, turns: list[Message], strict: bool,
               temperature: float | None, control: CallControl) -> Iterator[AnswerEvent]:
        """The answer's events after ``Retrieved``: a notice, its text, then ``Final``."""
        if llm is None:
            answer = (self.context or ContextWidener(None, 0)).answer_extractively(
                self.extractive, ev.question, ev.hits, ev.embedder, ev.vectors.made().get(ev.embedder))
            yield Delta(text=answer.answer)
            yield Final(answer=answer)
            return
        if not ev.grounded and strict:
            text = render(ev.lang, "no_answer")
            yield Delta(text=text)
            yield Final(answer=Answer(answer=text, found=False, citations=[], lang=ev.lang, mode="llm",
                                      best_score=round(ev.best, 6), model=llm.name))
            return
        msgs, fitted = self.messages(llm, ev, turns)
        warning = None if ev.grounded else render(ev.lang, "weak_warning")
        if warning:
            yield Notice(text=warning)
        result = yield from deltas(generate_cited(llm, msgs, len(fitted.sources), control, temperature))
        given = ev.hits[: len(fitted.sources)]
        citations = [Citation(n=n, **given[n - 1].model_dump()) for n in result.cited]
        body = f"{warning}\n\n{result.text}" if warning else result.text
        yield Final(answer=Answer(
            answer=body, found=ev.grounded, citations=citations, lang=ev.lang, mode="llm",
            best_score=round(ev.best, 6), model=llm.name, warning=warning, finish_reason=result.finish_reason,
            usage=result.usage, dropped_sources=fitted.dropped_sources, dropped_turns=fitted.dropped_turns))

    def messages(self, llm: ChatModel, ev: Evidence, turns: list[Message]) -> tuple[list[Message], Fitted]:
        lang = ev.lang
        system = render(lang, "kb_system")
        headers = [render(lang, "source", n=i, where=_where(h), text="") for i, h in enumerate(ev.hits, 1)]

        def user(rendered: str) -> str:
            return render(lang, "kb_user", sources=rendered or render(lang, "no_sources"), question=ev.question)

        def fit_texts(texts: list[str]) -> Fitted:
            return fit(llm.count_tokens, llm.context_window, llm.max_tokens, system, user, list(zip(headers, texts)),
                       turns, self.settings.history_share)

        # each source may be read with its neighbouring chunks (zhiku.chat.context); citations keep ev.hits
        fitted = (self.context or ContextWidener(None, 0)).for_prompt(lang, ev.hits, fit_texts)
        msgs: list[Message] = [{"role": "system", "content": system}, *fitted.history,
                               {"role": "user", "content": user("\n\n".join(fitted.sources))}]
        return msgs, fitted
