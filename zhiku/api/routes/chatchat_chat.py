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
from typing import Any, AsyncIterator, Iterator, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from zhiku.api import sse
from zhiku.api.deps import ZhikuDep
from zhiku.api.routes.chatchat_common import (
    DISTANCE_MAX,
    ChatchatRoute,
    CompatBody,
    data_line,
    hit_document,
    plain_references,
    references,
)
from zhiku.api.security import authorize_kb, require_scope
from zhiku.app import Zhiku
from zhiku.errors import InvalidInput
from zhiku.schema import Answer

router = APIRouter(tags=["chatchat-compatible"], route_class=ChatchatRoute, include_in_schema=False)

DEFAULT_TOP_K = 3
Mode = Literal["local_kb", "temp_kb", "search_engine"]


class HistoryItem(CompatBody):
    role: str
    content: str | list[dict[str, Any]] | None = None


class KBChatBody(CompatBody):
    query: str = Field(min_length=1)
    mode: Mode = "local_kb"
    kb_name: str = ""
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=200)
    score_threshold: float = Field(DISTANCE_MAX, ge=0.0, le=DISTANCE_MAX)
    history: list[HistoryItem] = Field(default_factory=list)
    stream: bool = True
    model: str | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = None
    prompt_name: str = "default"
    return_direct: bool = False


class OpenAIChatBody(BaseModel):
    """OpenAI's request plus Chatchat's extras (the openai SDK's ``extra_body`` lands at the top level)."""

    model_config = ConfigDict(extra="allow")

    messages: list[HistoryItem] = Field(min_length=1)
    model: str | None = None
    stream: bool | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=200)
    score_threshold: float = Field(DISTANCE_MAX, ge=0.0, le=DISTANCE_MAX)
    prompt_name: str = "default"
    return_direct: bool = False
    mode: Mode = "local_kb"  # used by /knowledge_base/chat/completions (Chatchat 0.3.0)
    kb_name: str = ""


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

    def __init__(self, model: str) -> None:
        self.id = f"chat{uuid.uuid4()}"
        self.created = int(time.time())
        self.model = model

    def _head(self, obj: str, **extra: Any) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "model": self.model, "created": self.created, "status": None,
                "message_type": 1, "message_id": None, "is_ref": False, **extra}

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
    return "length" if getattr(answer, "finish_reason", None) == "length" else "stop"


# -- KB chat ------------------------------------------------------------------------------------
async def kb_chat_response(
    request: Request, zhiku: Zhiku, *, query: str, mode: str, kb_name: str, top_k: int, score_threshold: float,
    history: list[HistoryItem], stream: bool, model: str | None, return_direct: bool, done_marker: bool,
) -> Any:
    if mode == "search_engine":
        require_scope(request, "read")  # no knowledge base involved
        return await web_chat_response(zhiku, query=query, turns=history_turns(history), model=model, top_k=top_k,
                                       stream=stream, return_direct=return_direct, done_marker=done_marker)
    if not kb_name:
        raise InvalidInput("kb_name is required: the knowledge base (or temporary knowledge id) to answer from")
    if not query.strip():
        raise InvalidInput("the query is empty")
    if mode == "temp_kb":
        owner = require_scope(request, "read").user_id  # a temporary KB is its uploader's only
        kb = await run_in_threadpool(zhiku.temp_kbs.kb_name, kb_name, owner, True)
    else:
        authorize_kb(request, kb_name, "read")
        kb = kb_name
    turns = history_turns(history)
    name = await run_in_threadpool(chat_model_name, zhiku, model)
    label = await run_in_threadpool(_model_label, zhiku, name)
    # the sources in Chatchat's order, before the answer: the same retrieval the chat runs
    n = max(top_k, zhiku.settings.answer.passages)
    hits = await run_in_threadpool(zhiku.search, [kb], query, n)
    docs = [d for d in (hit_document(h) for h in hits[:top_k]) if d["score"] <= score_threshold]
    refs = references(request, kb, docs) if mode == "local_kb" else plain_references(docs)
    out = _Output(label)

    if return_direct:
        body = out.completion("", docs=refs)
        if stream:
            return StreamingResponse(iter([data_line(body)]), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
        return body
    if not stream:
        answer = await run_in_threadpool(zhiku.chat_kb, [kb], query, turns, name, False, n)
        return {**out.completion(answer.answer, _finish(answer), docs=refs, citations=_citations(answer)),
                "usage": getattr(answer, "usage", None)}
    items: Iterator[str | Answer] = await run_in_threadpool(zhiku.chat_kb_stream, [kb], query, turns, name, n)
    first = await run_in_threadpool(next, items, None)  # errors before the stream starts keep their status
    return StreamingResponse(_chunks(out, refs, first, items, done_marker), media_type=sse.MEDIA_TYPE,
                             headers=sse.HEADERS)


async def _chunks(out: _Output, refs: list[str], first: str | Answer | None, items: Iterator[str | Answer],
                  done_marker: bool) -> AsyncIterator[bytes]:
    yield data_line(out.chunk("", docs=refs))
    final: Answer | None = None
    try:
        pending = [first] if first is not None else []
        rest = iterate_in_threadpool(items)
        while True:
            if pending:
                item = pending.pop()
            else:
                try:
                    item = await rest.__anext__()
                except StopAsyncIteration:
                    break
            if isinstance(item, Answer):
                final = item
            elif item:
                yield data_line(out.chunk(item))
    except Exception as exc:  # after the headers: report it in the stream, as Chatchat does
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        yield data_line({"code": 500, "msg": message, "error": {"type": getattr(exc, "kind", "error"),
                                                            "message": message, "details": {}}})
        return
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            await run_in_threadpool(close)  # stops a model's generation when the client goes away
    yield data_line(out.chunk("", _finish(final), citations=_citations(final)))
    if done_marker:
        yield b"data: [DONE]\n\n"


@router.post("/chat/kb_chat", response_model=None)
async def kb_chat(body: KBChatBody, request: Request, zhiku: ZhikuDep) -> Any:
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
async def kb_chat_completions(mode: Mode, param: str, body: OpenAIChatBody, request: Request,
                              zhiku: ZhikuDep) -> Any:
    """OpenAI-shaped KB chat: point an OpenAI client at ``/knowledge_base/local_kb/<kb>``."""
    return await _completions(mode, param, body, request, zhiku)


@router.post("/knowledge_base/chat/completions", response_model=None)
async def kb_chat_completions_030(body: OpenAIChatBody, request: Request, zhiku: ZhikuDep) -> Any:
    """Chatchat 0.3.0's form: ``mode`` and ``kb_name`` in the body."""
    return await _completions(body.mode, body.kb_name, body, request, zhiku)


# -- search-engine chat (zhiku.chat.web) --------------------------------------------------------
async def web_chat_response(zhiku: Zhiku, *, query: str, turns: list[dict[str, str]], model: str | None,
                            top_k: int, stream: bool, return_direct: bool, done_marker: bool) -> Any:
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
    answer = await run_in_threadpool(zhiku.chat_web, query, turns, name, False)
    refs = [f"出处 [{c.n}] [{c.file}]({c.url}) \n\n{c.text}\n\n" for c in answer.citations]
    out = _Output(getattr(answer, "model", None) or "extractive")
    if not stream:
        return {**out.completion(answer.answer, _finish(answer), docs=refs, citations=_citations(answer)),
                "usage": getattr(answer, "usage", None)}
    parts = [data_line(out.chunk("", docs=refs)), data_line(out.chunk(answer.answer)),
             data_line(out.chunk("", _finish(answer), citations=_citations(answer)))]
    return StreamingResponse(iter(parts + ([b"data: [DONE]\n\n"] if done_marker else [])),
                             media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
