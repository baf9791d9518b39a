"""Web-search chat: search the configured engine, read the best result pages through the
SSRF guard, rank their passages against the question, answer with numbered sources whose
citations carry the page URL and title.

With no chat model configured (and none named) the extractive answerer answers. The
answer says plainly when the search found nothing, and when no page could be read (the
engine's snippets then stand in for the pages). Grounding follows ``llm.grounding`` as in
knowledge-base chat.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from zhiku.chat.budget import fit
from zhiku.chat.generation import generate_cited
from zhiku.chat.kb import ChatAnswer, normalize_history
from zhiku.chat.prompts import render
from zhiku.errors import InvalidInput
from zhiku.llm.base import CallControl, ChatModel, Message
from zhiku.schema import Answer, Citation, Hit, KnowledgeBase
from zhiku.websearch.base import SearchEngine, WebResult
from zhiku.websearch.collect import Evidence, collect
from zhiku.websearch.fetch import PageFetcher

if TYPE_CHECKING:
    from zhiku.app import Zhiku

log = logging.getLogger(__name__)


class WebAnswer(ChatAnswer):
    """An answer from web search results: the results the engine gave and the pages not read."""

    results: list[WebResult] = Field(default_factory=list)
    unread: dict[str, str] = Field(default_factory=dict)  # result URL → why its page was not read
    notice: str | None = None


class WebChat:
    def __init__(self, app: Zhiku, engine: SearchEngine | None = None, fetcher: PageFetcher | None = None) -> None:
        from zhiku.websearch import build_engine, build_fetcher

        self.app = app
        settings = app.settings.websearch
        self.engine = engine or build_engine(settings)
        self.fetcher = fetcher or build_fetcher(settings)

    def evidence(self, question: str) -> tuple[str, Evidence, list[Hit]]:
        from zhiku.text.normalize import detect_lang
        from zhiku.websearch.rank import rank_passages

        if not question or not question.strip():
            raise InvalidInput("the question is empty")
        lang = detect_lang(question)
        found = collect(self.app.settings, self.engine, self.fetcher, question.strip(), lang)
        hits = rank_passages(self.app, question, found.passages, self.app.settings.websearch.passages)
        return lang, found, hits

    def stream(self, question: str, history: Sequence[Any] | None = None, model: str | None = None,
               control: CallControl | None = None) -> Iterator[str | Answer]:
        """Yield text deltas, then the final ``WebAnswer`` (always last)."""
        from zhiku.llm.extractive import relevance

        turns = normalize_history(history)
        name = model or self.app.chat_models.default_name()
        llm = self.app.chat_models.get(name) if name is not None else None  # an unknown model fails first
        lang, found, hits = self.evidence(question)
        extra: dict[str, Any] = {"results": found.results, "unread": found.failures}
        if not found.results:
            yield from self._final(render(lang, "web_no_results"), lang, hits=[], model=name, **extra)
            return
        reasons = "; ".join(list(found.failures.values())[:3])
        if not hits:
            text = render(lang, "web_all_failed", n=len(found.results), reasons=reasons)
            yield from self._final(text, lang, hits=[], model=name, **extra)
            return
        notice = (render(lang, "web_pages_failed", n=found.attempted, reasons=reasons)
                  if found.attempted and not found.fetched else None)
        if notice:
            yield notice + "\n\n"
        extra["notice"] = notice
        best = max((relevance(lang, h) for h in hits[:3]), default=0.0)
        grounded = best >= self.app.settings.retrieval.relevance_floor
        if llm is None:
            yield from self._extractive(question, lang, hits, notice, extra)
            return
        if not grounded and self.app.settings.llm.grounding == "strict":
            yield from self._final(render(lang, "web_no_answer"), lang, hits=[], model=name, best=best,
                                   prefix=notice, **extra)
            return
        yield from self._generate(llm, question, lang, hits, turns, best, grounded, control, notice, extra)

    def answer(self, *args: Any, **kwargs: Any) -> Answer:
        final: Answer | None = None
        for item in self.stream(*args, **kwargs):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    # -- the answer's parts -----------------------------------------------------------
    def _final(self, text: str, lang: str, hits: list[Hit], model: str | None, best: float = 0.0,
               prefix: str | None = None, **extra: Any) -> Iterator[str | Answer]:
        yield text
        body = f"{prefix}\n\n{text}" if prefix else text
        yield WebAnswer(answer=body, found=False, citations=[], lang=lang, mode="llm" if model else "extractive",
                        best_score=round(best, 6), model=model, **extra)

    def _web_kb(self) -> KnowledgeBase:
        """What the extractive answerer needs to know of its "knowledge base": the embedder."""
        name = self.app.settings.embedding.default
        now = datetime.now(UTC)
        ingest = self.app.settings.ingest
        return KnowledgeBase(id="web", name="web", embedder=name, dimensions=self.app.embedder(name).dimensions,
                             chunk_size=ingest.chunk_size, chunk_overlap=ingest.chunk_overlap,
                             created_at=now, updated_at=now)

    def _extractive(self, question: str, lang: str, hits: list[Hit], notice: str | None,
                    extra: dict[str, Any]) -> Iterator[str | Answer]:
        from zhiku.llm.extractive import LEAD, ExtractiveAnswerer

        answer = ExtractiveAnswerer(self.app).answer(question, hits, [self._web_kb()])
        if not answer.found:
            yield from self._final(render(lang, "web_no_answer"), lang, hits=[], model=None,
                                   best=answer.best_score, prefix=notice, **extra)
            return
        text = answer.answer
        if text.startswith(LEAD[answer.lang]):
            text = render(lang, "web_lead") + text[len(LEAD[answer.lang]):]
        yield text
        body = f"{notice}\n\n{text}" if notice else text
        yield WebAnswer(answer=body, found=True, citations=answer.citations, lang=answer.lang, mode="extractive",
                        best_score=answer.best_score, **extra)

    def messages(self, llm: ChatModel, question: str, lang: str, hits: list[Hit],
                 turns: list[Message]) -> tuple[list[Message], int, Any]:
        system = render(lang, "web_system")
        sources = [(render(lang, "web_source", n=i, title=h.file, url=h.url, text=""), h.text.strip())
                   for i, h in enumerate(hits, 1)]

        def user(rendered: str) -> str:
            return render(lang, "web_user", sources=rendered or render(lang, "no_sources"), question=question)

        fitted = fit(llm.count_tokens, llm.context_window, llm.max_tokens, system, user, sources, turns,
                     self.app.settings.llm.history_share)
        msgs: list[Message] = [{"role": "system", "content": system}, *fitted.history,
                               {"role": "user", "content": user("\n\n".join(fitted.sources))}]
        return msgs, len(fitted.sources), fitted

    def _generate(self, llm: ChatModel, question: str, lang: str, hits: list[Hit], turns: list[Message],
                  best: float, grounded: bool, control: CallControl | None, notice: str | None,
                  extra: dict[str, Any]) -> Iterator[str | Answer]:
        msgs, n_sources, fitted = self.messages(llm, question, lang, hits, turns)
        warning = None if grounded else render(lang, "web_weak_warning")
        if warning:
            yield warning + "\n\n"
        result = yield from generate_cited(llm, msgs, n_sources, self.app.settings.llm, control)
        citations = [Citation(n=n, **hits[n - 1].model_dump()) for n in result.cited]
        text = result.text
        body = "\n\n".join(p for p in (notice, warning, text) if p)
        yield WebAnswer(
            answer=body, found=grounded, citations=citations, lang=lang, mode="llm", best_score=round(best, 6),
            model=llm.name, warning=warning, finish_reason=result.finish_reason, usage=result.usage,
            dropped_sources=fitted.dropped_sources, dropped_turns=fitted.dropped_turns, **extra,
        )
