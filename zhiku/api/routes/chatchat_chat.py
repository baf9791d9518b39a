"""Langchain-Chatchat 0.3's KB chat routes over zhiku's chat: ``/chat/kb_chat`` and
``/knowledge_base/{mode}/{param}/chat/completions`` (the OpenAI-shaped one Chatchat's web UI
calls through the openai SDK).

``temp_kb`` mode uses zhiku's temporary knowledge bases (``zhiku.chat.files``, visible to their
owner only; the file-chat routes are in ``chatchat_files``), ``search_engine`` mode zhiku's
web-search chat.

kb_chat's stream is Chatchat's: server-sent ``data:`` lines of OpenAI-style chunks
(``{"id", "object": "chat.completion.chunk", "model", "created", "status", "message_type",
"message_id", "is_ref", "choices": [{"delta": {"content", ...}, "role"}]}``), the first one
carrying ``docs`` (Chatchat's markdown source lines); zhiku adds the standard OpenAI fields and
a last chunk with ``finish_reason`` and zhiku's structured ``citations``.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Callable, Iterator, Literal, get_args

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from zhiku.api import sse
from zhiku.api.deps import ZhikuDep
from zhiku.api.routes import chatchat_answers
from zhiku.api.routes.chatchat_common import (
    DISTANCE_MAX,
    ChatchatRoute,
    CompatBody,
    data_line,
    hit_document,
    plain_references,
    references,
    within_threshold,
)
from zhiku.api.security import AuthorizedKB, KBsNamed, kbs_in_body, principal
from zhiku.app import Zhiku
from zhiku.api.chat_events import answer_of, respond, retrieved_in, run_whole, text_of, whole
from zhiku.chat.pipeline import PreparedAnswer, as_turns
from zhiku.chat.turns import Ended, TurnResult
from zhiku.errors import InvalidInput
from zhiku.schema import Answer, AnswerEvent, AnswerRequest, Retrieved, limits
from zhiku.text.ids import new_id

router = APIRouter(tags=["chatchat-compatible"], route_class=ChatchatRoute, include_in_schema=False)

DEFAULT_TOP_K = 3
Mode = Literal["local_kb", "temp_kb", "search_engine"]


class HistoryItem(CompatBody):
    role: str = Field(max_length=limits.NAME_MAX_CHARS)
    content: Annotated[str, Field(max_length=limits.MESSAGE_MAX_CHARS)] | list[dict[str, Any]] | None = None


class KBChatBody(CompatBody):
    query: str = Field(min_length=1, max_length=limits.QUESTION_MAX_CHARS)
    mode: Mode = "local_kb"
    kb_name: str = Field("", max_length=limits.KB_NAME_MAX_CHARS)
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=200)
    score_threshold: float = Field(DISTANCE_MAX, ge=0.0, le=DISTANCE_MAX)
    history: list[HistoryItem] = Field(default_factory=list, max_length=limits.MESSAGES_MAX)
    stream: bool = True
    model: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = None
    prompt_name: str = Field("default", max_length=limits.NAME_MAX_CHARS)
    return_direct: bool = False


class OpenAIChatBody(BaseModel):
    """OpenAI's request plus Chatchat's extras (the openai SDK's ``extra_body`` lands at the top level)."""

    model_config = ConfigDict(extra="allow")

    messages: Annotated[list[HistoryItem], Field(min_length=1, max_length=limits.MESSAGES_MAX),
                        AfterValidator(limits.question_last)]
    model: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)
    stream: bool | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=200)
    score_threshold: float = Field(DISTANCE_MAX, ge=0.0, le=DISTANCE_MAX)
    prompt_name: str = Field("default", max_length=limits.NAME_MAX_CHARS)
    return_direct: bool = False
    mode: Mode = "local_kb"  # used by /knowledge_base/chat/completions (Chatchat 0.3.0)
    kb_name: str = Field("", max_length=limits.KB_NAME_MAX_CHARS)


# -- the knowledge base each route names, authorised before it runs --------------------------------
def _chat_kbs(mode: str, kb_name: str) -> list[str] | None:
    """local_kb answers over the KB named (none named: the route says so, 400); temp_kb (the
    caller's own files) and search_engine touch no knowledge base, but still need the read scope.
    An unknown mode names none (the route refuses it, 422)."""
    if mode not in get_args(Mode):
        return None
    if mode != "local_kb":
        return []
    return [kb_name] if kb_name else None


ModeParam = Annotated[str, Path(description="the knowledge base (local_kb), temporary knowledge id (temp_kb) "
                                            "or search engine (search_engine)")]
KBChatRequest = Annotated[KBChatBody, Depends(kbs_in_body(
    "read", KBChatBody, lambda b: _chat_kbs(b.mode, b.kb_name), ["kb_name"]))]
# the path form: the route declares (and checks) mode and param; read here as they come
PathChatKBs = Annotated[list[AuthorizedKB], Depends(KBsNamed(
    "read", lambda mode, param: _chat_kbs(mode, param), covers=["param"],
    mode=Annotated[str, Path(include_in_schema=False)], param=Annotated[str, Path(include_in_schema=False)]))]
BodyChatRequest = Annotated[OpenAIChatBody, Depends(kbs_in_body(
    "read", OpenAIChatBody, lambda b: _chat_kbs(b.mode, b.kb_name), ["kb_name"]))]


# -- helpers ------------------------------------------------------------------------------------
def _text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise InvalidInput("only text content parts are supported", part_type=part.get("type"))
        parts.append(part["text"])
    return "".join(parts)


def history_turns(items: list[HistoryItem]) -> list[dict[str, str]]:
    """Chatchat's history: user and assistant turns (system turns are dropped)."""
    out = []
    for m in items:
        if m.role == "system":
            continue
        if m.role not in ("user", "assistant"):
            raise InvalidInput(f"unsupported history role '{m.role}' (user, assistant or system)", role=m.role)
        out.append({"role": m.role, "content": _text(m.content)})
    return out


def chat_model_name(zhiku: Zhiku, requested: str | None) -> str | None:
    """A configured chat model by name; any other name (a Chatchat deployment's model) means
    zhiku's default, which the response's ``model`` field reports."""
    if requested and requested in {m.name for m in zhiku.list_chat_models(check=False)}:
        return requested
    return None


def _model_label(zhiku: Zhiku, name: str | None) -> str:
    return name or zhiku.chat_models.default_name() or "extractive"


class _Output:
    """Chatchat's ``OpenAIChatOutput`` with the standard OpenAI fields added."""

    def __init__(self, model: str, message_id: str | None = None) -> None:
        self.id = f"chat{uuid.uuid4()}"
        self.created = int(time.time())
        self.model = model
        self.message_id = message_id  # the answer's id for /chat/feedback (chatchat_answers)

    def _head(self, obj: str, **extra: Any) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "model": self.model, "created": self.created, "status": None,
                "message_type": 1, "message_id": self.message_id, "is_ref": False, **extra}

    def chunk(self, content: str, finish: str | None = None, **extra: Any) -> dict[str, Any]:
        delta = {"role": "assistant", "content": content, "tool_calls": []}
        return {**self._head("chat.completion.chunk", **extra), "choices": [
            {"index": 0, "delta": delta, "role": "assistant", "finish_reason": finish, "logprobs": None}]}

    def completion(self, content: str, finish: str = "stop", **extra: Any) -> dict[str, Any]:
        message = {"role": "assistant", "content": content, "finish_reason": finish, "tool_calls": []}
        return {**self._head("chat.completion", **extra), "choices": [
            {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}]}


def _citations(answer: Answer | None) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in answer.citations] if answer is not None else []


def _finish(answer: Answer | None) -> str:
    return "length" if answer is not None and answer.finish_reason == "length" else "stop"


# -- KB chat ------------------------------------------------------------------------------------
async def kb_chat_response(
    request: Request, zhiku: Zhiku, *, query: str, mode: str, kb_name: str, top_k: int, score_threshold: float,
    history: list[HistoryItem], stream: bool, model: str | None, return_direct: bool, done_marker: bool,
) -> Any:
    if mode == "search_engine":
        return await web_chat_response(request, zhiku, query=query, turns=history_turns(history), model=model,
                                       top_k=top_k, stream=stream, return_direct=return_direct,
                                       done_marker=done_marker)
    if not kb_name:
        raise InvalidInput("kb_name is required: the knowledge base (or temporary knowledge id) to answer from")
    if not query.strip():
        raise InvalidInput("the query is empty")
    if mode == "temp_kb":
        owner = principal(request).user_id  # a temporary KB is its uploader's only
        kb = await run_in_threadpool(zhiku.temp_kbs.kb_name, kb_name, owner, True)
    else:
        kb = kb_name
    name = await run_in_threadpool(chat_model_name, zhiku, model)
    asked = AnswerRequest(mode="kb", kbs=[kb], question=query, history=as_turns(history_turns(history)), model=name,
                          top_k=top_k)
    prepared = await run_in_threadpool(zhiku.answers.prepare, asked)
    message_id = None if return_direct else new_id()
    out = _Output(prepared.answered_by, message_id)
    asker = principal(request).user_id

    if message_id is not None:  # kept under its message_id for Chatchat's /chat/feedback
        await run_in_threadpool(chatchat_answers.record, zhiku.engine, message_id, asker, kb_name, query, "")

    def answered(text: str) -> None:
        """The complete answer (called on the event loop by the stream's encoder)."""
        if message_id is not None:
            chatchat_answers.finish_later(zhiku.engine, message_id, text)

    # an answer that says the KB holds nothing lists no sources (docs/chatchat-compat.md): the extractive
    # answerer always says so under the relevance floor, a chat model does with strict grounding
    says_nothing_found = prepared.model is None or zhiku.settings.llm.grounding == "strict"

    def sources(retrieved: Retrieved | None, answering: bool = True) -> list[str]:
        """The sources in Chatchat's order, before the answer: the passages the answer is made from."""
        if answering and says_nothing_found and retrieved is not None and not retrieved.found:
            return []
        hits = retrieved.hits if retrieved is not None else []
        docs = within_threshold([hit_document(h) for h in hits[:top_k]], score_threshold)
        return references(request, kb, docs) if mode == "local_kb" else plain_references(docs)

    if return_direct:  # the sources alone: the answer stops right after its retrieval, before any model call
        retrieved = await run_in_threadpool(_retrieved_only, zhiku, prepared)
        body = out.completion("", docs=sources(retrieved, answering=False))  # sources asked for, no answer
        if stream:
            return StreamingResponse(iter([data_line(body)]), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
        return body
    outcome = await respond(request, lambda control: zhiku.answers.events(prepared, control), prepared.timeouts,
                            whole, stream, lambda opening: _Chunks(out, sources(retrieved_in(opening)),
                                                                     done_marker, answered),
                            zhiku.settings.server.sse_heartbeat_s)
    if isinstance(outcome, StreamingResponse):
        return outcome
    answer = outcome.answer
    if answer is not None and message_id is not None:
        await run_in_threadpool(chatchat_answers.finish, zhiku.engine, message_id, answer.answer)
    return {**out.completion(answer.answer if answer else "", _finish(answer), docs=sources(outcome.retrieved),
                             citations=_citations(answer)), "usage": answer.usage if answer else None}


def _retrieved_only(zhiku: Zhiku, prepared: PreparedAnswer) -> Retrieved | None:
    events = zhiku.answers.events(prepared)
    try:
        return next((e for e in events if isinstance(e, Retrieved)), None)
    finally:
        events.close()  # before the answer: no model is called


class _Chunks:
    """kb_chat's stream: the chunk with ``docs``, the answer's chunks, a last chunk with
    ``finish_reason`` and zhiku's ``citations``; an error after the stream started is Chatchat's
    error line."""

    def __init__(self, out: _Output, refs: list[str], done_marker: bool,
                 answered: Callable[[str], None] | None = None) -> None:
        self.out, self.refs, self.done_marker, self.answered = out, refs, done_marker, answered

    def head(self) -> Iterator[bytes]:
        yield data_line(self.out.chunk("", docs=self.refs))

    def event(self, event: AnswerEvent) -> Iterator[bytes]:
        if text := text_of(event):
            yield data_line(self.out.chunk(text))

    def end(self, ended: Ended[TurnResult]) -> Iterator[bytes]:
        if ended.error is not None:  # after the headers: report it in the stream, as Chatchat does
            message = ended.error.message
            yield data_line({"code": 500, "msg": message, "error": {"type": ended.error.kind, "message": message,
                                                                "details": {}}})
            return
        final = ended.outcome.answer if ended.outcome is not None else None
        if self.answered is not None and final is not None:
            self.answered(final.answer)  # kept for /chat/feedback
        yield data_line(self.out.chunk("", _finish(final), citations=_citations(final)))
        if self.done_marker:
            yield b"data: [DONE]\n\n"


@router.post("/chat/kb_chat", response_model=None)
async def kb_chat(body: KBChatRequest, request: Request, zhiku: ZhikuDep) -> Any:
    return await kb_chat_response(
        request, zhiku, query=body.query, mode=body.mode, kb_name=body.kb_name, top_k=body.top_k,
        score_threshold=body.score_threshold, history=body.history, stream=body.stream, model=body.model,
        return_direct=body.return_direct, done_marker=False)


async def _completions(mode: str, param: str, body: OpenAIChatBody, request: Request, zhiku: Zhiku) -> Any:
    last = body.messages[-1]
    if last.role != "user":
        raise InvalidInput("the last message must come from the user")
    return await kb_chat_response(
        request, zhiku, query=_text(last.content), mode=mode, kb_name=param, top_k=body.top_k,
        score_threshold=body.score_threshold, history=body.messages[:-1], stream=bool(body.stream),
        model=body.model, return_direct=body.return_direct, done_marker=True)


@router.post("/knowledge_base/{mode}/{param}/chat/completions", response_model=None)
async def kb_chat_completions(mode: Mode, param: ModeParam, body: OpenAIChatBody, kbs: PathChatKBs,
                              request: Request, zhiku: ZhikuDep) -> Any:
    """OpenAI-shaped KB chat: point an OpenAI client at ``/knowledge_base/local_kb/<kb>``."""
    return await _completions(mode, param, body, request, zhiku)


@router.post("/knowledge_base/chat/completions", response_model=None)
async def kb_chat_completions_030(body: BodyChatRequest, request: Request, zhiku: ZhikuDep) -> Any:
    """Chatchat 0.3.0's form: ``mode`` and ``kb_name`` in the body."""
    return await _completions(body.mode, body.kb_name, body, request, zhiku)


# -- search-engine chat (zhiku.chat.web) --------------------------------------------------------
async def web_chat_response(request: Request, zhiku: Zhiku, *, query: str, turns: list[dict[str, str]],
                            model: str | None, top_k: int, stream: bool, return_direct: bool,
                            done_marker: bool) -> Any:
    """Chatchat's ``search_engine`` mode over zhiku's web-search chat (the configured engine;
    Chatchat's engine name in ``kb_name`` is not used). The pages are read before the answer
    starts, so the answer comes in one piece, after the chunk with the sources."""
    name = await run_in_threadpool(chat_model_name, zhiku, model)
    if return_direct:
        results = await run_in_threadpool(zhiku.web_search, query, top_k)
        refs = [f"出处 [{n}] [{r.title}]({r.url}) \n\n{r.snippet}\n\n" for n, r in enumerate(results, 1)]
        body = _Output(await run_in_threadpool(_model_label, zhiku, name)).completion("", docs=refs)
        if stream:
            return StreamingResponse(iter([data_line(body)]), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
        return body
    await run_in_threadpool(zhiku.answers.web_chat.engine_or_off)  # off: 503, as Chatchat's own
    asked = AnswerRequest(mode="search", question=query, history=as_turns(turns), model=name)
    prepared = await run_in_threadpool(zhiku.answers.prepare, asked)
    answer = await run_whole(request, lambda control: zhiku.answers.events(prepared, control), prepared.timeouts,
                             answer_of)
    refs = [f"出处 [{c.n}] [{c.file}]({c.url}) \n\n{c.text}\n\n" for c in answer.citations]
    out = _Output(answer.model or "extractive")
    if not stream:
        return {**out.completion(answer.answer, _finish(answer), docs=refs, citations=_citations(answer)),
                "usage": answer.usage}
    parts = [data_line(out.chunk("", docs=refs)), data_line(out.chunk(answer.answer)),
             data_line(out.chunk("", _finish(answer), citations=_citations(answer)))]
    return StreamingResponse(iter(parts + ([b"data: [DONE]\n\n"] if done_marker else [])),
                             media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
