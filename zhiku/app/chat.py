"""``Zhiku``'s chat face: answers in every mode, conversations, summaries, web search, the agent's tools."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from zhiku.app.kbs import KBFace
from zhiku.schema import Answer, AnswerEvent, AnswerRequest, WebResult

if TYPE_CHECKING:
    from typing import Iterator

    from zhiku.chat.conversations import Conversations
    from zhiku.chat.files import TempKBs
    from zhiku.chat.pipeline import AnswerPipeline
    from zhiku.chat.summaries import Summaries
    from zhiku.llm.base import CallControl
    from zhiku.llm.pull import PullResult
    from zhiku.llm.registry import ModelInfo


class ChatFace(KBFace):
    # -- answers -----------------------------------------------------------------------
    def answer(self, request: AnswerRequest, control: "CallControl | None" = None) -> Answer:
        """Answer a question in any mode (``request.mode``: llm, kb, file, search) through the answer
        pipeline, the one every face uses."""
        return self.answers.answer(request, control)

    def answer_stream(self, request: AnswerRequest, control: "CallControl | None" = None) -> "Iterator[AnswerEvent]":
        """The answer's events: ``Retrieved``, ``Notice``, ``Delta``... and ``Final`` (always last).
        The request is checked first (its errors raise here); closing the iterator stops the model,
        and so does ``control.cancel.set()`` from another thread."""
        return self.answers.stream(request, control)

    # -- chat models (zhiku.llm) -----------------------------------------------------
    def list_chat_models(self, check: bool = True) -> list["ModelInfo"]:
        """Every chat model the app can use; ``check`` asks each server whether it answers."""
        return self.chat_models.list(check=check)

    def pull_model(
        self, what: str, mirror: str | None = None, sha256: str | None = None, name: str | None = None,
        progress: Callable[[int, int | None], None] | None = None, cancelled: Callable[[], bool] | None = None,
    ) -> "PullResult":
        """Download a curated GGUF (by name) or any GGUF URL into HOME/models and register it."""
        from zhiku.llm.pull import pull

        return pull(self.settings, what, mirror, sha256, name, progress, cancelled)

    # -- web search (zhiku.websearch, zhiku.chat.web) ---------------------------------
    def web_search(self, query: str, limit: int | None = None, engine: str | None = None) -> list[WebResult]:
        """Results of the configured search engine (or ``engine``); no page is fetched."""
        return self.answers.web_chat.search(query, limit, engine)

    # -- the agent's tools (zhiku.agent) -----------------------------------------------
    @property
    def agent_services(self) -> dict[str, Any]:
        """What the agent's tools are built on (``ToolContext.services``; built once, shared by answers):
        the retriever, the catalog, the web engine and guarded fetcher, the KBs' tables, the admin's databases."""
        from zhiku.agent.services import agent_services

        return self._once("_agent_services", lambda: agent_services(
            self.settings, self.catalog, self.retriever, self.ingestor.stored_path))

    # -- conversations and chat in every mode (zhiku.chat) ---------------------------
    @property
    def conversations(self) -> "Conversations":
        """Conversations, messages and feedback (each call names the owner)."""
        from zhiku.chat.conversations import Conversations

        return self._once("_conversations", lambda: Conversations(self.engine, self.settings.chat.title_chars))

    @property
    def temp_kbs(self) -> "TempKBs":
        """File chat's temporary knowledge bases (uploaded files with a time to live)."""
        from zhiku.chat.files import TempKBs

        return self._once("_temp_kbs", lambda: TempKBs(
            self.engine, self.catalog, self.settings.chat, self.settings.ingest, self.settings.embedding.default,
            lambda name: self.embedders.get(name).dimensions, lambda: self._jobs, self.delete_kb))

    @property
    def summaries(self) -> "Summaries":
        """Summaries of files and KBs (stored with the model that made them; made again when stale)."""
        from zhiku.chat.summaries import Summaries

        return self._once("_summaries", lambda: Summaries(self.engine, self.catalog, self.kb, self.embedder,
                                                          lambda: self.chat_models))

    @property
    def answers(self) -> "AnswerPipeline":
        """The answer pipeline (built on first use): every question of every face goes through it."""
        return self._once("_answers", self._answer_pipeline)

    def _answer_pipeline(self) -> "AnswerPipeline":
        from zhiku.chat.agent import AgentChat
        from zhiku.chat.kb import KBChat
        from zhiku.chat.kb_answers import KBAnswers
        from zhiku.chat.context import ContextWidener
        from zhiku.chat.llm import LLMChat
        from zhiku.chat.pipeline import AnswerPipeline
        from zhiku.chat.routing import kb_profile
        from zhiku.retrieval.routing import Router
        from zhiku.chat.web import WebChat
        from zhiku.llm.extractive import ExtractiveAnswerer

        s = self.settings
        extractive = ExtractiveAnswerer(s.retrieval.relevance_floor, s.answer, self.cached_embedder,
                                        self.embedders.score_range, self.retriever.query_vector)
        return AnswerPipeline(s, self.kb, self.retriever, lambda: self.chat_models, lambda: self.temp_kbs,
                              KBChat(s.llm, extractive,
                                     ContextWidener(self.engine, s.answer.context_chars, s.answer.context_langs,
                                                    s.answer.prompt_context_chars, s.answer.prompt_context_langs)),
                              LLMChat(), WebChat(s, self.embedders.get, extractive),
                              AgentChat(s, self.retriever, lambda: {**self.agent_services, "kb": self.kb}),
                              router=Router(self.retriever, kb_profile(self.engine)),
                              kb_answers=KBAnswers(self.engine, self.catalog, self.summaries))
