"""The answer pipeline: every question, from every face (CLI, /api/ask, /api/chat,
conversations, /v1, the Chatchat routes), goes through ``AnswerPipeline``.

``prepare`` checks the request once (mode, knowledge bases, uploaded files, model, question)
before anything is stored or streamed; ``events`` then yields the answer's typed events:
``Retrieved`` (the passages, retrieved once per question: faces that show sources first take
them from here), ``Notice`` (said ahead of the answer), ``Delta`` (its text), and ``Final``
(the ``Answer``), always last. Closing the iterator, or setting ``control.cancel``, stops the
model. The modes' own parts are services: ``KBChat`` (kb and file modes), ``LLMChat``,
``WebChat`` (search) and the ``ExtractiveAnswerer`` when no chat model answers.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from zhiku.agent.loop import Approvals
from zhiku.chat.agent import AgentChat
from zhiku.chat.evidence import Evidence, QueryVectors, weigh
from zhiku.chat.kb import KBChat
from zhiku.chat.kb_questions import kb_question
from zhiku.chat.llm import LLMChat
from zhiku.chat.web import WebChat
from zhiku.config import Settings
from zhiku.chat.prompts import render
from zhiku.errors import InvalidInput, Unavailable, ZhikuError
from zhiku.llm.base import CallControl, Message, Timeouts
from zhiku.retrieval.routing import Route, Router
from zhiku.schema import Answer, AnswerEvent, AnswerMode, AnswerRequest, Final, KnowledgeBase, Notice, Turn

if TYPE_CHECKING:
    from zhiku.chat.kb_answers import KBAnswers
    from zhiku.chat.files import TempKBs
    from zhiku.llm.registry import ModelRegistry
    from zhiku.retrieval.search import Retriever

SEARCH_NOT_CONFIGURED = "search mode is not configured: choose a search engine in the settings (websearch.engine)"
NO_MODEL = "no chat model is configured: set llm.default (or name a model) for LLM chat; see `zhiku models`"
SEARCH_MODES = ("hybrid", "dense", "lexical")
Answering = Generator[AnswerEvent, None, None]  # closing it stops the answer
CHOICES = ("mode", "kbs", "temp_kb", "model", "temperature", "top_k", "strict", "retrieval", "agentic")
NO_AGENT_MODEL = ("agent mode and agentic KB chat need a chat model: set llm.default (or name a model); models "
                  "that take OpenAI tools call them natively, others through the ReAct text protocol")  # a message's per-answer choices


@dataclass
class PreparedAnswer:
    """A request that passed the checks, with what they resolved."""

    request: AnswerRequest
    lang: str
    kbs: list[KnowledgeBase]  # kb mode's knowledge bases (file mode's is resolved when it runs)
    model: str | None  # the chat model that answers; None: the extractive answerer
    timeouts: Timeouts  # the answering model's (the settings' when none)
    turns: list[Message]

    @property
    def answered_by(self) -> str:
        """The name of what answers: a chat model, or ``extractive``."""
        return self.model or "extractive"


def final_answer(events: Answering) -> Answer:
    """The ``Answer`` a stream ends with; the stream is drained and closed."""
    try:
        for event in events:
            if isinstance(event, Final):
                return event.answer
    finally:
        events.close()
    raise ZhikuError("the answer ended without its final event")


class AnswerPipeline:
    def __init__(
        self, settings: Settings, kb: Callable[[str], KnowledgeBase], retriever: "Retriever",
        chat_models: Callable[[], "ModelRegistry"], temp_kbs: Callable[[], "TempKBs"],
        kb_chat: KBChat, llm_chat: LLMChat, web_chat: WebChat, agent_chat: AgentChat | None = None,
        router: Router | None = None, kb_answers: "KBAnswers | None" = None, approvals: Approvals | None = None,
    ) -> None:
        """``kb(name)``: a knowledge base by name (NotFound otherwise); ``chat_models()`` and
        ``temp_kbs()``: the chat model registry and file chat's uploads, built on first use."""
        self.settings, self.kb, self.retriever = settings, kb, retriever
        self.chat_models, self.temp_kbs = chat_models, temp_kbs
        self.kb_chat, self.llm_chat, self.web_chat = kb_chat, llm_chat, web_chat
        self.agent_chat = agent_chat or AgentChat(settings, retriever, lambda: {"kb": kb})
        # agent calls waiting for their user's decision (POST /api/chat/approvals), in the database
        self.approvals = approvals or Approvals(retriever.catalog.engine)
        self.router = router or Router(retriever)  # kb mode asked of all the asker's KBs (request.route)
        self.kb_answers = kb_answers  # questions about the KB itself: from its catalog and summaries

    # -- the one entry -----------------------------------------------------------------
    def stream(self, request: AnswerRequest, control: CallControl | None = None) -> Answering:
        """Check the request (errors raise here), then its events."""
        return self.events(self.prepare(request), control)

    def answer(self, request: AnswerRequest, control: CallControl | None = None) -> Answer:
        return final_answer(self.stream(request, control))

    # -- checks, once, before anything is stored or streamed ---------------------------
    def prepare(self, request: AnswerRequest) -> PreparedAnswer:
        from zhiku.text.normalize import detect_lang

        mode, registry = request.mode, self.chat_models()
        kbs: list[KnowledgeBase] = []
        if mode == "search" and self.settings.websearch.engine == "none":
            raise InvalidInput(SEARCH_NOT_CONFIGURED, mode=mode)
        if request.agentic and mode not in ("kb", "agent"):
            raise InvalidInput("agentic retrieval is for kb and agent modes", mode=mode)
        if mode == "agent" and request.kbs:  # the KBs its kb_search may read (none named: no KB search)
            kbs = [self.kb(name) for name in dict.fromkeys(request.kbs)]
        if mode == "kb":
            if not request.kbs and request.route:
                raise InvalidInput("there is no knowledge base you can read: create one, or ask for access to one")
            if not request.kbs:
                raise InvalidInput("kb mode needs at least one knowledge base (kbs)")
            kbs = [self.kb(name) for name in dict.fromkeys(request.kbs)]
        elif mode == "file":
            if not request.temp_kb:
                raise InvalidInput("file mode needs the id of uploaded files (temp_kb, from POST /api/chat/files)")
            self.temp_kbs().check(request.temp_kb, request.owner)
        if request.retrieval is not None and request.retrieval not in SEARCH_MODES:
            raise InvalidInput(f"unknown search mode '{request.retrieval}'; use one of: {', '.join(SEARCH_MODES)}")
        if request.rerank is not None:
            from zhiku.retrieval.rerank import check_reranker

            check_reranker(request.rerank)
        if request.extractive and (mode in ("llm", "agent") or request.model or request.agentic):
            raise InvalidInput("an extractive answer quotes the sources: it takes no chat model", mode=mode)
        model = None if request.extractive else request.model or registry.default_name()
        if mode == "llm" and model is None:
            raise Unavailable(NO_MODEL)
        if (mode == "agent" or request.agentic) and model is None:
            raise Unavailable(NO_AGENT_MODEL)
        if mode == "agent":
            self.agent_chat.check_tools(request.tools)
        elif request.tools is not None:
            raise InvalidInput("choosing tools is for agent mode", mode=mode)
        if request.model:
            registry.config(request.model)  # an unknown model fails here
        if not request.question or not request.question.strip():
            raise InvalidInput("the question is empty")
        tools_used = request.tool_turns or any(t.role == "tool" or t.tool_calls for t in request.history)
        if (request.options or tools_used) and mode != "llm":
            raise InvalidInput("generation options, tool calls and tool results are for llm mode only", mode=mode)
        turns = [as_message(t) for t in request.history]
        timeouts = self._timeouts(model)
        if self._agentic(request):  # model calls and tools share the agent's budget
            timeouts = replace(timeouts, total=self.settings.agent.total_timeout_s)
        return PreparedAnswer(request, detect_lang(request.question), kbs, model, timeouts, turns)

    @staticmethod
    def _agentic(request: AnswerRequest) -> bool:
        """Whether the chat model calls tools: agent mode, or kb mode with agentic retrieval."""
        return request.mode == "agent" or (request.mode == "kb" and bool(request.agentic))

    def _timeouts(self, model: str | None) -> Timeouts:
        llm = self.settings.llm
        fallback = Timeouts(llm.connect_timeout_s, llm.read_timeout_s, llm.total_timeout_s)
        if model is None:
            return fallback
        try:
            return self.chat_models().get(model).timeouts
        except Exception:  # the answer itself reports why the model cannot be used
            return fallback

    # -- the answer --------------------------------------------------------------------
    def events(self, prepared: PreparedAnswer, control: CallControl | None = None) -> Answering:
        """The answer's events; closing the iterator (or ``control.cancel``) stops it."""
        request, lang = prepared.request, prepared.lang
        control = control or CallControl(prepared.timeouts)
        registry = self.chat_models()
        if request.mode == "llm":
            llm = registry.get(prepared.model or "")
            yield from self.llm_chat.stream(llm, request.question, lang, prepared.turns, control,
                                            request.temperature, request.system, request.max_tokens,
                                            request.options, [as_message(t) for t in request.tool_turns])
            return
        if self._agentic(request):
            yield from self._agent(prepared, control)
            return
        vectors = QueryVectors(request.question, self.retriever.query_vector)
        if request.mode == "search":
            web_llm = registry.get(prepared.model) if prepared.model else None
            yield from self.web_chat.stream(request.question, lang, vectors, web_llm, prepared.turns, control)
            return
        about_kb = kb_question(request.question) if request.mode == "kb" and self.kb_answers else None
        if about_kb is not None and self.kb_answers is not None and prepared.kbs:
            yield from self.kb_answers.stream(about_kb, prepared.kbs, lang)
            return
        kbs = prepared.kbs or [self._uploaded(request, control)]
        yield from self._kb_answer(prepared, kbs, vectors, control)

    def _kb_answer(self, prepared: PreparedAnswer, kbs: Sequence[KnowledgeBase], vectors: QueryVectors,
                   control: CallControl) -> Answering:
        """KB chat: one search of the question, then the answer from its passages."""
        request = prepared.request
        route = self._route(kbs, request, vectors) if request.route else None
        ev = self._retrieve(kbs, request, prepared.lang, vectors, route)
        yield ev.retrieved
        kb_llm = self.chat_models().get(prepared.model) if prepared.model else None
        grounding = self.settings.llm.grounding if request.strict is None else (
            "strict" if request.strict else "lenient")
        answering = self.kb_chat.stream(ev, kb_llm, prepared.turns, grounding == "strict", request.temperature, control)
        if route is None:
            yield from answering
            return
        # the KBs the question went to, said ahead of the answer and in it (text and ``Answer.kbs``)
        said = render(prepared.lang, "routed", kbs=", ".join(route.names), total=route.considered)
        yield Notice(text=said)
        try:
            for event in answering:
                if isinstance(event, Final):
                    a = event.answer
                    event = Final(answer=a.model_copy(update={"answer": f"{said}\n\n{a.answer}", "kbs": route.names}))
                yield event
        finally:
            close = getattr(answering, "close", None)  # a generator: stops the model's answer
            if close is not None:
                close()

    def _route(self, kbs: Sequence[KnowledgeBase], request: AnswerRequest, vectors: QueryVectors) -> Route:
        """Which of the asker's KBs the question goes to, and their passages (zhiku.retrieval.routing)."""
        settings = self.settings
        n = max(request.top_k or settings.retrieval.top_k, settings.answer.passages)
        mode = request.retrieval or settings.retrieval.mode
        if mode != "lexical":
            for kb in kbs:
                vectors.get(kb.embedder)
        return self.router.route(kbs, request.question, n, mode, vectors.made())

    def _agent(self, prepared: PreparedAnswer, control: CallControl) -> Answering:
        """Agent mode, or agentic KB chat (which falls back to KB chat when the model does not search)."""
        request = prepared.request
        llm = self.chat_models().get(prepared.model or "")
        agentic_kb = request.mode == "kb"

        def plain() -> Answering:
            vectors = QueryVectors(request.question, self.retriever.query_vector)
            return self._kb_answer(prepared, prepared.kbs, vectors, control)

        yield from self.agent_chat.stream(llm, request.question, prepared.lang, prepared.kbs, prepared.turns,
                                          request.owner, control, request.temperature, agentic_kb,
                                          request.retrieval, plain if agentic_kb else None, request.tools,
                                          self.approvals if request.approvals else None)

    def _uploaded(self, request: AnswerRequest, control: CallControl) -> KnowledgeBase:
        """File mode's temporary KB; files uploaded a moment ago may still be read: wait for them
        (a stop ends the wait)."""
        name = self.temp_kbs().kb_name(request.temp_kb or "", request.owner, touch=True,
                                       wait_s=self.settings.chat.file_wait_s, cancelled=control.cancel.is_set)
        return self.kb(name)

    def _retrieve(self, kbs: Sequence[KnowledgeBase], request: AnswerRequest, lang: str,
                  vectors: QueryVectors, route: Route | None = None) -> Evidence:
        """The one search of the question; its embedding is kept for the answerer. A routed
        question's search was the route's."""
        settings = self.settings
        if route is not None:
            return weigh(request.question, lang, route.hits, settings.retrieval.relevance_floor,
                         route.kbs[0].embedder, vectors, self.retriever.stored_tokens(route.hits))
        n = max(request.top_k or settings.retrieval.top_k, settings.answer.passages)
        mode = request.retrieval or settings.retrieval.mode
        if mode != "lexical":
            for kb in kbs:
                vectors.get(kb.embedder)
        hits = self.retriever.search(kbs, request.question, n, mode, query_vectors=vectors.made(),
                                     rerank=request.rerank)
        return weigh(request.question, lang, hits, settings.retrieval.relevance_floor, kbs[0].embedder, vectors,
                     self.retriever.stored_tokens(hits))


def as_message(turn: Turn) -> Message:
    """A turn as a chat model's message (with its tool calls, or the call a tool's result answers)."""
    message: Message = {"role": turn.role, "content": turn.content}
    if turn.tool_calls:
        message["tool_calls"] = turn.tool_calls
    if turn.tool_call_id is not None:
        message["tool_call_id"] = turn.tool_call_id
    return message


def as_turns(history: Sequence[Mapping[str, str]]) -> list[Turn]:
    """Role/content pairs as a request's history."""
    return [Turn.model_validate(dict(t)) for t in history]


def request_for(mode: AnswerMode, chosen: dict[str, Any], overrides: dict[str, Any], question: str,
                history: Sequence[Mapping[str, str]] = (), owner: str = "local") -> AnswerRequest:
    """A question asked with a conversation's settings (``chosen``) and one message's choices
    (``overrides``, those not None) applied over them."""
    merged = {**chosen, **{k: v for k, v in overrides.items() if v is not None}}
    return AnswerRequest(
        mode=merged.get("mode") or mode, question=question, history=as_turns(history), owner=owner,
        kbs=list(merged.get("kbs") or []), temp_kb=merged.get("temp_kb"), model=merged.get("model"),
        temperature=merged.get("temperature"), top_k=merged.get("top_k"), strict=merged.get("strict"),
        retrieval=merged.get("retrieval"), agentic=merged.get("agentic"))


ALL_KBS = "*"  # kbs ["*"]: every knowledge base the asker may read, the question routed to those that fit it


def routed(request: AnswerRequest, readable: Callable[[], Sequence[str]]) -> AnswerRequest:
    """A kb-mode request naming ``*`` (all my KBs) as a routed one over ``readable()`` (the names of
    the KBs the asker may read); any other request as it is."""
    if request.mode != "kb" or ALL_KBS not in request.kbs:
        return request
    return request.model_copy(update={"kbs": list(readable()), "route": True})


def named_kbs(kbs: Sequence[str] | None) -> list[str] | None:
    """The KB names a request names for its access check (``*`` is no KB's name: it stands for the
    KBs the asker may read)."""
    return None if kbs is None else [k for k in kbs if k != ALL_KBS]
