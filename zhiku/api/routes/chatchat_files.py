"""Langchain-Chatchat 0.3's file chat over zhiku's temporary knowledge bases
(``zhiku.chat.files``): ``/knowledge_base/upload_temp_docs``, ``/knowledge_base/search_temp_docs``,
``/chat/file_chat``; and ``/chat/feedback`` over zhiku's conversations. A temporary knowledge
base is its uploader's only (the service checks the owner on every use).
"""

from __future__ import annotations

from typing import Any, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from zhiku.api import sse
from zhiku.api.chat_events import respond, retrieved_in, text_of, whole
from zhiku.api.deps import ReadScope, WriteScope, ZhikuDep
from zhiku.api.routes import chatchat_answers
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
    within_threshold,
)
from zhiku.auth import Principal
from zhiku.app import Zhiku
from zhiku.chat.files import KEPT
from zhiku.chat.pipeline import as_turns
from zhiku.chat.turns import Ended, TurnResult
from zhiku.errors import InvalidInput, NotFound
from zhiku.schema import AnswerEvent, AnswerRequest, Retrieved, limits

router = APIRouter(tags=["chatchat-compatible"], route_class=ChatchatRoute, include_in_schema=False)


class FileChatBody(CompatBody):
    query: str = Field(min_length=1, max_length=limits.QUESTION_MAX_CHARS)
    knowledge_id: str = Field(min_length=1, max_length=limits.NAME_MAX_CHARS)
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=200)
    score_threshold: float = Field(DISTANCE_MAX, ge=0.0, le=DISTANCE_MAX)
    history: list[HistoryItem] = Field(default_factory=list, max_length=limits.MESSAGES_MAX)
    stream: bool = False
    model_name: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)
    temperature: float | None = None
    max_tokens: int | None = None
    prompt_name: str = Field("default", max_length=limits.NAME_MAX_CHARS)


class FeedbackBody(CompatBody):
    message_id: str = Field("", max_length=32)
    score: int = Field(0, ge=0, le=100)
    reason: str = Field("", max_length=limits.REASON_MAX_CHARS)


class SearchTempDocs(CompatBody):
    knowledge_id: str = Field(min_length=1, max_length=limits.NAME_MAX_CHARS)
    query: str = Field(min_length=1, max_length=limits.QUESTION_MAX_CHARS)
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=200)
    score_threshold: float = Field(DISTANCE_MAX, ge=0.0, le=DISTANCE_MAX)


def temp_kb(who: Principal, zhiku: Zhiku, knowledge_id: str) -> str:
    """The knowledge base behind a temporary (file-chat) knowledge id; only its owner may use it."""
    return zhiku.temp_kbs.kb_name(knowledge_id, who.user_id, touch=True)


@router.post("/chat/file_chat", response_model=None)
async def file_chat(body: FileChatBody, who: ReadScope, request: Request, zhiku: ZhikuDep) -> StreamingResponse:
    """Always server-sent events, as in Chatchat: ``{"answer": piece}`` lines then ``{"docs": [...]}``
    (streaming), or one ``{"answer", "docs"}`` line."""
    kb = await run_in_threadpool(temp_kb, who, zhiku, body.knowledge_id)  # its owner's only
    name = await run_in_threadpool(chat_model_name, zhiku, body.model_name)
    asked = AnswerRequest(mode="kb", kbs=[kb], question=body.query, history=as_turns(history_turns(body.history)), model=name,
                          top_k=body.top_k)
    prepared = await run_in_threadpool(zhiku.answers.prepare, asked)

    def sources(retrieved: Retrieved | None) -> list[str]:
        hits = retrieved.hits if retrieved is not None else []
        docs = within_threshold([hit_document(h) for h in hits[:body.top_k]], body.score_threshold)
        return plain_references(docs)

    outcome = await respond(request, lambda control: zhiku.answers.events(prepared, control), prepared.timeouts,
                            whole, body.stream, lambda opening: _FileChatLines(sources(retrieved_in(opening))),
                            zhiku.settings.server.sse_heartbeat_s)
    if isinstance(outcome, StreamingResponse):
        return outcome
    answer = outcome.answer.answer if outcome.answer is not None else ""
    return StreamingResponse(iter([data_line({"answer": answer, "docs": sources(outcome.retrieved)})]),
                             media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


class _FileChatLines:
    """file_chat's stream: ``{"answer": piece}`` lines, then ``{"docs": [...]}``."""

    def __init__(self, refs: list[str]) -> None:
        self.refs = refs

    def head(self) -> Iterator[bytes]:
        return iter(())

    def event(self, event: AnswerEvent) -> Iterator[bytes]:
        if text := text_of(event):
            yield data_line({"answer": text})

    def end(self, ended: Ended[TurnResult]) -> Iterator[bytes]:
        if ended.error is not None:  # after the headers: reported in the stream, as kb_chat does
            message = ended.error.message
            yield data_line({"code": 500, "msg": message, "error": {"type": ended.error.kind, "message": message,
                                                                "details": {}}})
            return
        yield data_line({"docs": self.refs})


@router.post("/knowledge_base/upload_temp_docs")
async def upload_temp_docs(request: Request, who: WriteScope, zhiku: ZhikuDep) -> dict[str, Any]:
    """Multipart ``files`` (+ ``prev_id``): a temporary knowledge base for file chat, answered
    when its files are read. ``prev_id`` (or ``knowledge_id``, as Chatchat's client sends it)
    names an earlier one of the caller's: the files are added to it and its id is returned, as
    Chatchat does (an unknown or expired id: a new temporary KB)."""
    owner = who.user_id  # uploading stores files: the write scope, as every upload
    staging = await run_in_threadpool(zhiku.stage_upload)
    try:
        fields = await receive_form(request, staging)
    except BaseException:
        await run_in_threadpool(staging.discard)
        raise
    prev = (fields.get("prev_id") or fields.get("knowledge_id") or "").strip()
    sent = {f.name for f in staging.files}
    earlier = None
    if prev and prev not in ("None", "null"):
        try:
            earlier = await run_in_threadpool(zhiku.temp_kbs.get, prev, owner)  # the caller's only
        except NotFound:
            earlier = None
    if earlier is not None and earlier.status != "expired":
        info = await run_in_threadpool(zhiku.temp_kbs.add, prev, owner, staging)  # discards staging on failure
    else:
        info = await run_in_threadpool(zhiku.temp_kbs.create, owner, staging)  # discards staging on failure
    if info.job_id:
        await finished(zhiku, info.job_id)
        info = await run_in_threadpool(zhiku.temp_kbs.get, info.id, owner)
    failed = [{f.name: f.detail or f.outcome} for f in info.files if f.outcome not in KEPT and f.name in sent]
    return envelope({"id": info.id, "failed_files": failed, "status": info.status,
                     "expires_at": info.expires_at.isoformat()})


@router.post("/knowledge_base/search_temp_docs")
def search_temp_docs(body: SearchTempDocs, who: ReadScope,
                     zhiku: ZhikuDep) -> list[dict[str, Any]] | dict[str, Any]:  # or Chatchat's error envelope
    kb = temp_kb(who, zhiku, body.knowledge_id)
    hits = zhiku.search([kb], body.query, top_k=body.top_k)
    return within_threshold([hit_document(h) for h in hits], body.score_threshold)


@router.post("/chat/feedback")
def chat_feedback(body: FeedbackBody, who: WriteScope, zhiku: ZhikuDep) -> dict[str, Any]:
    """Chatchat's score (0-100) as zhiku's thumbs: 50 and above is up. ``message_id`` is the one a
    kb_chat answer carries (kept in ``chatchat_answers``), or an assistant message of one of the
    caller's zhiku conversations."""
    if not body.message_id:
        raise InvalidInput("message_id is required")
    rated = chatchat_answers.rate(zhiku.engine, body.message_id, who.user_id, body.score, body.reason)
    if rated is not None:
        return envelope(rated, f"已反馈聊天记录 {body.message_id}")
    rating = "up" if body.score >= 50 else "down"
    fb = zhiku.conversations.set_feedback(who.user_id, body.message_id, rating, body.reason or None)
    return envelope(fb.model_dump(mode="json"), f"已反馈聊天记录 {body.message_id}")
