"""Stateless chat in every mode (nothing stored) and file chat's uploads.

- ``POST /api/chat``: ``mode`` llm | kb | file | search | agent, ``messages`` (the last one is the
  question), per-answer choices; answers with the assistant Message, or streams the events of
  ``zhiku.api.chat_protocol`` (the same as a conversation's).
- ``POST /api/chat/files``: upload files for file chat (multipart, field ``files``); they become a
  temporary knowledge base, read by a background job, deleted ``chat.temp_ttl_minutes`` after its
  last use. ``GET /api/chat/files/{id}`` tells when it is ``ready``; then chat with mode ``file``
  and ``temp_kb: <id>``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from zhiku.api.chat_events import ChatEncoder, respond
from zhiku.client.chat_models import ChatRequest
from zhiku.api.deps import CallerRead, CallerWrite, ReadableKBIds, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.routes.conversations import STREAM_DOC, approvals
from zhiku.api.routes.files import UPLOAD_BODY
from zhiku.api.routes.tools import readable_names
from zhiku.api.security import kbs_in_body, principal
from zhiku.api.uploads import receive_files
from zhiku.chat.pipeline import CHOICES, named_kbs, request_for, routed
from zhiku.schema.chat import Message, TempKB
from zhiku.chat.turns import TurnResult, reply_fields
from zhiku.errors import InvalidInput
from zhiku.text.ids import now

router = APIRouter(prefix="/api/chat", tags=["chat"])
TempKBId = Annotated[str, Path(description="uploaded files' id", pattern=r"^[0-9a-f]{32}$")]
ApprovalId = Annotated[str, Path(description="the approval_request event's id", pattern=r"^[0-9a-f]{32}$")]
# kb mode answers from the knowledge bases named, and agent mode's KB search reads them; the other modes touch none
ChatBody = Annotated[ChatRequest, Depends(kbs_in_body(
    "read", ChatRequest, lambda b: named_kbs(b.kbs or []) if b.mode in ("kb", "agent") else None, ["kbs"]))]


@router.post("", response_model=Message, responses={**STREAM_DOC, **responses(400, 404, 409, 422, 503, 504)})
async def chat(body: ChatBody, request: Request, readable: ReadableKBIds, zhiku: ZhikuDep) -> Message | StreamingResponse:
    """Answer the last message (history: the ones before it) in any mode; nothing is stored."""
    owner = principal(request).user_id
    if body.messages[-1].role != "user":
        raise InvalidInput("the last message must come from the user")
    history = [m.model_dump() for m in body.messages[:-1]]
    if body.images:  # a question with a picture: the vision model answers (zhiku/api/vision_chat.py)
        from zhiku.api.vision_chat import vision_chat

        start = {"mode": body.mode, "model": body.model, "conversation_id": None, "user_message_id": None}
        return await vision_chat(
            zhiku, request, body.images, body.messages[-1].content, history, body.mode, body.kbs, body.model,
            body.top_k, lambda r: Message(role="assistant", created_at=now(), **reply_fields(r, body.mode, "")),
            lambda _: ChatEncoder(start), body.stream)
    asked = request_for(body.mode, {}, body.model_dump(include=set(CHOICES)), body.messages[-1].content,
                        history, owner).model_copy(update={"approvals": approvals(body.approvals, body.stream)})
    asked = routed(asked, lambda: readable_names(zhiku, readable))  # kbs ["*"]: all the caller may read
    prepared = await run_in_threadpool(zhiku.answers.prepare, asked)

    def finish(result: TurnResult) -> Message:
        return Message(role="assistant", created_at=now(), **reply_fields(result, asked.mode, prepared.answered_by))

    start = {"mode": asked.mode, "model": prepared.answered_by, "conversation_id": None, "user_message_id": None}
    return await respond(request, lambda control: zhiku.answers.events(prepared, control), prepared.timeouts,
                         finish, body.stream, lambda _: ChatEncoder(start), zhiku.settings.server.sse_heartbeat_s)


class ApprovalDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool = Field(description="true: the tool call runs; false: it is refused and the model is told so")


@router.post("/approvals/{approval_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422))
def decide_approval(approval_id: ApprovalId, body: ApprovalDecision, who: CallerWrite, zhiku: ZhikuDep) -> Response:
    """Approve or deny a tool call that a streamed agent answer of the caller's waits on (its
    ``approval_request`` event); unknown, decided, expired or another user's: 404."""
    zhiku.answers.approvals.decide(approval_id, who.user_id, body.approve)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/files", status_code=status.HTTP_202_ACCEPTED, openapi_extra={"requestBody": UPLOAD_BODY},
             responses=responses(400, 413, 422, 503))
async def upload_chat_files(request: Request, who: CallerWrite, zhiku: ZhikuDep) -> TempKB:
    """Upload files to chat with (multipart, field ``files``; the upload limits apply). Returns 202
    with their id and status ``ingesting``; poll ``GET /api/chat/files/{id}`` until ``ready``."""
    owner = who.user_id
    staging = await run_in_threadpool(zhiku.stage_upload)
    try:
        await receive_files(request, staging)
    except BaseException:
        await run_in_threadpool(staging.discard)
        raise
    return await run_in_threadpool(zhiku.temp_kbs.create, owner, staging)


@router.get("/files/{temp_kb_id}", responses=responses(404, 422))
def get_chat_files(temp_kb_id: TempKBId, who: CallerRead, zhiku: ZhikuDep) -> TempKB:
    """Status (ingesting, ready, failed) of uploaded files, each file's outcome, and when they expire."""
    return zhiku.temp_kbs.get(temp_kb_id, who.user_id)


@router.delete("/files/{temp_kb_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422))
def delete_chat_files(temp_kb_id: TempKBId, who: CallerWrite, zhiku: ZhikuDep) -> Response:
    """Delete uploaded files and their temporary knowledge base now."""
    zhiku.temp_kbs.delete(temp_kb_id, who.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
