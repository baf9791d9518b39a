"""Langchain-Chatchat 0.3's file chat over zhiku's temporary knowledge bases
(``zhiku.chat.files``): ``/knowledge_base/upload_temp_docs``, ``/knowledge_base/search_temp_docs``,
``/chat/file_chat``; and ``/chat/feedback`` over zhiku's conversations. A temporary knowledge
base is its uploader's only (the service checks the owner on every use).
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from zhiku.api import sse
from zhiku.api.deps import ZhikuDep
from zhiku.api.routes.chatchat_chat import DEFAULT_TOP_K, HistoryItem, chat_model_name, history_turns
from zhiku.api.routes.chatchat_common import (
    DISTANCE_MAX,
    ChatchatRoute,
    CompatBody,
    data_line,
    envelope,
    finished,
    hit_document,
    plain_references,
    receive_form,
)
from zhiku.api.security import require_scope
from zhiku.app import Zhiku
from zhiku.chat.files import KEPT
from zhiku.errors import InvalidInput, NotFound

router = APIRouter(tags=["chatchat-compatible"], route_class=ChatchatRoute, include_in_schema=False)


class FileChatBody(CompatBody):
    query: str = Field(min_length=1)
    knowledge_id: str = Field(min_length=1)
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=200)
    score_threshold: float = Field(DISTANCE_MAX, ge=0.0, le=DISTANCE_MAX)
    history: list[HistoryItem] = Field(default_factory=list)
    stream: bool = False
    model_name: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    prompt_name: str = "default"


class FeedbackBody(CompatBody):
    message_id: str = Field("", max_length=32)
    score: int = Field(0, ge=0, le=100)
    reason: str = ""


class SearchTempDocs(CompatBody):
    knowledge_id: str = Field(min_length=1)
    query: str = Field(min_length=1)
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=200)
    score_threshold: float = Field(DISTANCE_MAX, ge=0.0, le=DISTANCE_MAX)


def temp_kb(request: Request, zhiku: Zhiku, knowledge_id: str) -> str:
    """The knowledge base behind a temporary (file-chat) knowledge id; only its owner may use it."""
    who = require_scope(request, "read")
    return zhiku.temp_kbs.kb_name(knowledge_id, who.user_id, touch=True)


@router.post("/chat/file_chat", response_model=None)
async def file_chat(body: FileChatBody, request: Request, zhiku: ZhikuDep) -> StreamingResponse:
    """Always server-sent events, as in Chatchat: ``{"answer": piece}`` lines then ``{"docs": [...]}``
    (streaming), or one ``{"answer", "docs"}`` line."""
    kb = await run_in_threadpool(temp_kb, request, zhiku, body.knowledge_id)  # its owner's only
    turns = history_turns(body.history)
    name = await run_in_threadpool(chat_model_name, zhiku, body.model_name)
    n = max(body.top_k, zhiku.settings.answer.passages)
    hits = await run_in_threadpool(zhiku.search, [kb], body.query, n)
    docs = [d for d in (hit_document(h) for h in hits[:body.top_k]) if d["score"] <= body.score_threshold]
    refs = plain_references(docs)
    if not body.stream:
        answer = await run_in_threadpool(zhiku.chat_kb, [kb], body.query, turns, name, False, n)
        return StreamingResponse(iter([data_line({"answer": answer.answer, "docs": refs})]),
                                 media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
    items = await run_in_threadpool(zhiku.chat_kb_stream, [kb], body.query, turns, name, n)
    first = await run_in_threadpool(next, items, None)

    async def events() -> AsyncIterator[bytes]:
        try:
            if isinstance(first, str) and first:
                yield data_line({"answer": first})
            async for item in iterate_in_threadpool(items):
                if isinstance(item, str) and item:
                    yield data_line({"answer": item})
        finally:
            await run_in_threadpool(items.close)  # type: ignore[attr-defined]
        yield data_line({"docs": refs})

    return StreamingResponse(events(), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


@router.post("/knowledge_base/upload_temp_docs")
async def upload_temp_docs(request: Request, zhiku: ZhikuDep) -> dict[str, Any]:
    """Multipart ``files`` (+ ``prev_id``): a temporary knowledge base for file chat, answered
    when its files are read. ``prev_id`` (or ``knowledge_id``, as Chatchat's client sends it)
    names an earlier one of the caller's, which is deleted; the new id is returned."""
    owner = require_scope(request, "read").user_id  # chatting with one's own files needs no more
    staging = await run_in_threadpool(zhiku.stage_upload)
    try:
        fields = await receive_form(request, staging)
    except BaseException:
        await run_in_threadpool(staging.discard)
        raise
    prev = (fields.get("prev_id") or fields.get("knowledge_id") or "").strip()
    if prev and prev not in ("None", "null"):
        try:
            await run_in_threadpool(zhiku.temp_kbs.delete, prev, owner)
        except NotFound:
            pass
    info = await run_in_threadpool(zhiku.temp_kbs.create, owner, staging)  # discards staging on failure
    if info.job_id:
        await finished(zhiku, info.job_id)
        info = await run_in_threadpool(zhiku.temp_kbs.get, info.id, owner)
    failed = [{f.name: f.detail or f.outcome} for f in info.files if f.outcome not in KEPT]
    return envelope({"id": info.id, "failed_files": failed, "status": info.status,
                     "expires_at": info.expires_at.isoformat()})


@router.post("/knowledge_base/search_temp_docs")
def search_temp_docs(body: SearchTempDocs, request: Request, zhiku: ZhikuDep) -> list[dict[str, Any]]:
    kb = temp_kb(request, zhiku, body.knowledge_id)
    hits = zhiku.search([kb], body.query, top_k=body.top_k)
    return [d for d in (hit_document(h) for h in hits) if d["score"] <= body.score_threshold]


@router.post("/chat/feedback")
def chat_feedback(body: FeedbackBody, request: Request, zhiku: ZhikuDep) -> dict[str, Any]:
    """Chatchat's score (0-100) as zhiku's thumbs: 50 and above is up. ``message_id`` is the id of
    an assistant message of one of the caller's zhiku conversations."""
    if not body.message_id:
        raise InvalidInput("message_id is required")
    rating = "up" if body.score >= 50 else "down"
    who = require_scope(request, "read")
    fb = zhiku.conversations.set_feedback(who.user_id, body.message_id, rating, body.reason or None)
    return envelope(fb.model_dump(mode="json"), f"已反馈聊天记录 {body.message_id}")
