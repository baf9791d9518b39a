"""Conversations: create, list, read (with messages and feedback), rename, delete, export as
Markdown; send a message (answered in the conversation's mode, streamed or not); rate an answer.

A conversation is visible to its owner only (the caller, ``principal(request).user_id``);
another owner's conversation reads as 404.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from zhiku.api import sse
from zhiku.api.chat_events import ChatEncoder, respond
from zhiku.client.chat_models import ConversationCreate, ConversationUpdate, FeedbackCreate, MessageCreate
from zhiku.api.deps import CallerDep, ReadableKBIds, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.security import Caller, KBsInBody, Principal, kbs_in_body, principal
from zhiku.app import Zhiku
from zhiku.errors import InvalidInput
from zhiku.chat.export import to_markdown
from zhiku.chat.pipeline import CHOICES, named_kbs, request_for, routed
from zhiku.schema.chat import Conversation, Feedback, Message
from zhiku.chat.turns import TurnResult, reply_fields


def approvals(wanted: bool, stream: bool) -> bool:
    """Whether an answer may wait for its caller's approvals: only a stream's client can answer them."""
    if wanted and not stream:
        raise InvalidInput("approvals need a streamed answer (stream: true): the approval_request event is how "
                           "the client learns what to approve", param="approvals")
    return wanted

router = APIRouter(prefix="/api", tags=["conversations"])  # the caller's own: reading needs read, changing write
READS = [Depends(Caller("read"))]
WRITES = [Depends(Caller("write"))]
ID_PATTERN = r"^[0-9a-f]{32}$"
ConversationId = Annotated[str, Path(description="conversation id", pattern=ID_PATTERN)]
MessageId = Annotated[str, Path(description="message id", pattern=r"^[0-9a-f]{32}$")]
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "the assistant message (JSON), or with `stream: true` a text/event-stream of events "
                         "start, delta (repeated), citations, error (only on failure), done (the stored message)",
          "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}}},
}


def _owner(request: Request) -> str:
    return principal(request).user_id


# -- the knowledge bases a request names, authorised before the route runs ------------------------
def _created_kbs(body: ConversationCreate) -> list[str] | None:
    kbs = body.kbs if body.kbs is not None else body.settings.kbs if body.settings is not None else None
    return named_kbs(kbs) or None  # kbs ["*"]: all the caller may read, each question routed


def _updated_kbs(body: ConversationUpdate) -> list[str] | None:
    settings = body.settings  # only the fields given change
    return (named_kbs(settings.kbs) or None) if settings is not None and "kbs" in settings.model_fields_set else None


def _message_kbs(conversation_id: str, body: MessageCreate, zhiku: Zhiku, who: Principal) -> list[str] | None:
    """The KBs a message answers from in kb mode: its own choice, else its conversation's (which may
    have lost access since it was set). A malformed id names none: the route answers it (422)."""
    if not re.fullmatch(ID_PATTERN, conversation_id):
        return None
    conv = zhiku.conversations.get(who.user_id, conversation_id, False)
    asked = request_for(conv.mode, conv.settings.model_dump(), body.model_dump(include=set(CHOICES)), body.content)
    return named_kbs(asked.kbs) if asked.mode in ("kb", "agent") else None


# the bodies, once the caller may read every knowledge base they name (a message: or its conversation)
CreateBody = Annotated[ConversationCreate, Depends(kbs_in_body(
    "read", ConversationCreate, _created_kbs, ["kbs", "settings.kbs"]))]
UpdateBody = Annotated[ConversationUpdate, Depends(kbs_in_body(
    "read", ConversationUpdate, _updated_kbs, ["settings.kbs"]))]
MessageBody = Annotated[MessageCreate, Depends(KBsInBody(
    "read", _message_kbs, covers=["kbs"], body=MessageCreate, zhiku=ZhikuDep, who=CallerDep,
    conversation_id=Annotated[str, Path(include_in_schema=False)]))]  # the route declares and checks it


@router.post("/conversations", status_code=status.HTTP_201_CREATED, responses=responses(400, 404, 422),
             dependencies=WRITES)
def create_conversation(body: CreateBody, request: Request, zhiku: ZhikuDep) -> Conversation:
    """Start a conversation in a mode (llm, kb, file, search, agent) with its settings."""
    settings = {**(body.settings.model_dump(exclude_none=True) if body.settings else {}),
                **body.model_dump(include={"kbs", "temp_kb", "model", "temperature", "top_k", "strict", "agentic"},
                                  exclude_none=True)}
    return zhiku.conversations.create(_owner(request), body.mode, body.title, settings)


@router.get("/conversations", responses=responses(422), dependencies=READS)
def list_conversations(
    request: Request, zhiku: ZhikuDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[Conversation]:
    """The caller's conversations, most recently active first (without their messages)."""
    return zhiku.conversations.list(_owner(request), limit, offset)


@router.get("/conversations/{conversation_id}", responses=responses(404, 422), dependencies=READS)
def get_conversation(conversation_id: ConversationId, request: Request, zhiku: ZhikuDep) -> Conversation:
    """The conversation with every message in order, each with its feedback."""
    return zhiku.conversations.get(_owner(request), conversation_id)


@router.patch("/conversations/{conversation_id}", responses=responses(400, 404, 422), dependencies=WRITES)
def update_conversation(conversation_id: ConversationId, body: UpdateBody, request: Request,
                        zhiku: ZhikuDep) -> Conversation:
    """Rename it, change its mode, or change some of its settings."""
    settings = body.settings.model_dump(exclude_unset=True) if body.settings is not None else None
    return zhiku.conversations.update(_owner(request), conversation_id, body.title, settings, body.mode)


@router.delete("/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT,
                responses=responses(404, 422), dependencies=WRITES)
def delete_conversation(conversation_id: ConversationId, request: Request, zhiku: ZhikuDep) -> Response:
    zhiku.conversations.delete(_owner(request), conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/conversations/{conversation_id}/export", response_class=Response, dependencies=READS, responses={
    200: {"content": {"text/markdown": {}}, "description": "the conversation as Markdown"}, **responses(404, 422)})
def export_conversation(conversation_id: ConversationId, request: Request, zhiku: ZhikuDep) -> Response:
    """Title, each question and answer, citations as footnotes (file, page, quote)."""
    conv = zhiku.conversations.get(_owner(request), conversation_id)
    name = (conv.title or "conversation")[:80] + ".md"
    return Response(to_markdown(conv), media_type="text/markdown; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=\"conversation.md\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff"})


@router.post("/conversations/{conversation_id}/messages", response_model=Message, dependencies=WRITES,
             responses={**STREAM_DOC, **responses(400, 404, 409, 422, 503, 504)})
async def send_message(conversation_id: ConversationId, body: MessageBody, request: Request,
                       readable: ReadableKBIds, zhiku: ZhikuDep) -> Message | StreamingResponse:
    """Ask in the conversation: the question is stored, answered with the conversation's mode and
    settings (this message's choices override them), and the answer stored with its mode, model,
    citations, latency and usage — or its error. A client that leaves a stream stops the answer;
    the part already written is stored with status ``stopped``."""
    owner = _owner(request)
    conv = await run_in_threadpool(zhiku.conversations.get, owner, conversation_id, False)
    history = await run_in_threadpool(zhiku.conversations.history, conversation_id)
    asked = request_for(conv.mode, conv.settings.model_dump(), body.model_dump(include=set(CHOICES)), body.content,
                        history, owner).model_copy(update={"approvals": approvals(body.approvals, body.stream)})
    from zhiku.api.routes.tools import readable_names

    asked = routed(asked, lambda: readable_names(zhiku, readable))  # kbs ["*"]: all the caller may read
    prepared = await run_in_threadpool(zhiku.answers.prepare, asked)  # fails before anything is stored
    question = await run_in_threadpool(
        zhiku.conversations.add_message, owner, conversation_id, "user", body.content, mode=asked.mode)

    def finish(result: TurnResult) -> Message:
        fields = reply_fields(result, asked.mode, prepared.answered_by)
        return zhiku.conversations.add_message(owner, conversation_id, "assistant", **fields)

    start = {"mode": asked.mode, "model": prepared.answered_by, "conversation_id": conversation_id,
             "user_message_id": question.id}
    return await respond(request, lambda control: zhiku.answers.events(prepared, control), prepared.timeouts,
                         finish, body.stream, lambda _: ChatEncoder(start), zhiku.settings.server.sse_heartbeat_s)


@router.post("/messages/{message_id}/feedback", responses=responses(400, 404, 422), dependencies=WRITES)
def set_feedback(message_id: MessageId, body: FeedbackCreate, request: Request, zhiku: ZhikuDep) -> Feedback:
    """Thumbs up or down on an answer, with an optional reason; a new rating replaces the old."""
    return zhiku.conversations.set_feedback(_owner(request), message_id, body.rating, body.reason)
