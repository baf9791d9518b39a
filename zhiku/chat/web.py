"""Web-search answers: search the configured engine, read the best result pages through the
SSRF guard, rank their passages against the question, answer with numbered sources whose
citations carry the page URL and title.

With no chat model the extractive answerer answers. The answer says plainly when the search
found nothing, and when no page could be read (the engine's snippets then stand in for the
pages). Grounding follows ``llm.grounding`` as in knowledge-base chat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from zhiku.chat.budget import Fitted, fit
from zhiku.chat.evidence import Evidence, QueryVectors, weigh
from zhiku.chat.generation import deltas, generate_cited
from zhiku.chat.prompts import render
from zhiku.config import Settings
from zhiku.embed.base import Embedder
from zhiku.llm.base import CallControl, ChatModel, Message
from zhiku.llm.extractive import LEAD, ExtractiveAnswerer
from zhiku.schema import Answer, AnswerEvent, Citation, Delta, Final, Notice, WebResult, WebSearchPart
from zhiku.websearch.base import SearchEngine
from zhiku.websearch.collect import Evidence as WebEvidence, collect
from zhiku.websearch.fetch import PageFetcher


class WebChat:
    def __init__(self, settings: Settings, embedder: Callable[[str], Embedder], extractive: ExtractiveAnswerer,
                 engine: SearchEngine | None = None, fetcher: PageFetcher | None = None) -> None:
        """``settings``: its websearch, llm, retrieval and ingest sections and the default embedder's
        name; ``embedder(name)`` gives an embedder (the web's passages are embedded with the default
        one). Without ``engine`` and ``fetcher`` the configured ones are built for each question."""
        self.settings, self.embedder, self.extractive = settings, embedder, extractive
        self.engine, self.fetcher = engine, fetcher

    def engine_or_off(self) -> SearchEngine:
        """The configured engine; ``Unavailable`` when web search is off (``websearch.engine: none``)."""
        from zhiku.websearch import build_engine

        return self.engine or build_engine(self.settings.websearch)

    def search(self, query: str, limit: int | None = None, engine: str | None = None) -> list[WebResult]:
        """The engine's results (no page is fetched)."""
        from zhiku.text.normalize import detect_lang
        from zhiku.websearch import build_engine

        ws = self.settings.websearch
        chosen = self.engine if self.engine is not None and engine is None else build_engine(ws, engine)
        return chosen.search(query, limit or ws.results, detect_lang(query or ""))

    def evidence(self, question: str, lang: str, vectors: QueryVectors) -> tuple[WebEvidence, Evidence]:
        """The pages read for the question, and their passages ranked against it."""
        from zhiku.websearch import build_fetcher
        from zhiku.websearch.rank import rank_passages

        s = self.settings
        engine = self.engine_or_off()
        fetcher = self.fetcher or build_fetcher(s.websearch)
        found = collect(s.websearch, engine, fetcher, question.strip(), lang,
                        (s.ingest.chunk_size, s.ingest.chunk_overlap))
        name = s.embedding.default
        hits = rank_passages(question, found.passages, s.websearch.passages, self.embedder(name),
                             lambda: vectors.get(name), s.websearch.dense_candidates, s.retrieval.dense_weight)
        return found, weigh(question, lang, hits, s.retrieval.relevance_floor, name, vectors)

    def stream(self, question: str, lang: str, vectors: QueryVectors, llm: ChatModel | None, turns: list[Message],
               control: CallControl) -> Iterator[AnswerEvent]:
        """``Retrieved`` (the ranked passages), a notice, the answer's text, then ``Final``."""
        found, ev = self.evidence(question, lang, vectors)
        yield ev.retrieved
        part = WebSearchPart(results=found.results, unread=found.failures)
        name = llm.name if llm is not None else None
        if not found.results:
            yield from self._final(render(lang, "web_no_results"), lang, name, part)
            return
        reasons = "; ".join(list(found.failures.values())[:3])
        if not ev.hits:
            yield from self._final(render(lang, "web_all_failed", n=len(found.results), reasons=reasons), lang,
                                   name, part)
            return
        if found.attempted and not found.fetched:
            part.notice = render(lang, "web_pages_failed", n=found.attempted, reasons=reasons)
            yield Notice(text=part.notice)
        if llm is None:
            yield from self._extractive(ev, part)
        elif not ev.grounded and self.settings.llm.grounding == "strict":
            yield from self._final(render(lang, "web_no_answer"), lang, name, part, ev.best)
        else:
            yield from self._generate(llm, ev, turns, control, part)

    # -- the answer's parts -----------------------------------------------------------
    @staticmethod
    def _final(text: str, lang: str, model: str | None, part: WebSearchPart,
               best: float = 0.0) -> Iterator[AnswerEvent]:
        yield Delta(text=text)
        body = f"{part.notice}\n\n{text}" if part.notice else text
        yield Final(answer=Answer(answer=body, found=False, citations=[], lang=lang,
                                  mode="llm" if model else "extractive", best_score=round(best, 6), model=model,
                                  web=part))

    def _extractive(self, ev: Evidence, part: WebSearchPart) -> Iterator[AnswerEvent]:
        answer = self.extractive.answer(ev.question, ev.hits, ev.embedder, ev.vectors.made().get(ev.embedder))
        if not answer.found:
            yield from self._final(render(ev.lang, "web_no_answer"), ev.lang, None, part, answer.best_score)
            return
        text = answer.answer
        if text.startswith(LEAD[answer.lang]):
            text = render(ev.lang, "web_lead") + text[len(LEAD[answer.lang]):]
        yield Delta(text=text)
        body = f"{part.notice}\n\n{text}" if part.notice else text
        yield Final(answer=answer.model_copy(update={"answer": body, "web": part}))

    def messages(self, llm: ChatModel, ev: Evidence, turns: list[Message]) -> tuple[list[Message], Fitted]:
        lang = ev.lang
        system = render(lang, "web_system")
        sources = [(render(lang, "web_source", n=i, title=h.file, url=h.url, text=""), h.text.strip())
                   for i, h in enumerate(ev.hits, 1)]

        def user(rendered: str) -> str:
            return render(lang, "web_user", sources=rendered or render(lang, "no_sources"), question=ev.question)

        fitted = fit(llm.count_tokens, llm.context_window, llm.max_tokens, system, user, sources, turns,
                     self.settings.llm.history_share)
        msgs: list[Message] = [{"role": "system", "content": system}, *fitted.history,
                               {"role": "user", "content": user("\n\n".join(fitted.sources))}]
        return msgs, fitted

    def _generate(self, llm: ChatModel, ev: Evidence, turns: list[Message], control: CallControl,
                  part: WebSearchPart) -> Iterator[AnswerEvent]:
        msgs, fitted = self.messages(llm, ev, turns)
        warning = None if ev.grounded else render(ev.lang, "web_weak_warning")
        if warning:
            yield Notice(text=warning)
        result = yield from deltas(generate_cited(llm, msgs, len(fitted.sources), control))
        citations = [Citation(n=n, **ev.hits[n - 1].model_dump()) for n in result.cited]
        body = "\n\n".join(p for p in (part.notice, warning, result.text) if p)
        yield Final(answer=Answer(
            answer=body, found=ev.grounded, citations=citations, lang=ev.lang, mode="llm",
            best_score=round(ev.best, 6), model=llm.name, warning=warning, finish_reason=result.finish_reason,
            usage=result.usage, dropped_sources=fitted.dropped_sources, dropped_turns=fitted.dropped_turns, web=part))
