"""Search and ask over one or several knowledge bases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from zhiku.api import sse
from zhiku.api.chat_events import answer_of, respond
from zhiku.api.deps import ReadableKBIds, ZhikuDep
from zhiku.api.errors import responses
from zhiku.client.models import AskRequest, SearchRequest
from zhiku.api.routes.tools import readable_names
from zhiku.api.security import kbs_in_body
from zhiku.chat.pipeline import named_kbs, routed
from zhiku.schema import Answer, AnswerRequest, Hit

router = APIRouter(prefix="/api", tags=["search and answers"])
# the body, once the caller may read every knowledge base it names
SearchBody = Annotated[SearchRequest, Depends(kbs_in_body("read", SearchRequest, lambda b: b.kbs, ["kbs"]))]
AskBody = Annotated[AskRequest, Depends(kbs_in_body("read", AskRequest, lambda b: named_kbs(b.kbs), ["kbs"]))]


@router.post("/search", responses=responses(400, 404, 422))
def search(body: SearchBody, zhiku: ZhikuDep) -> list[Hit]:
    """Hybrid (or dense, or lexical) search; scores in [0, 1], higher is better, comparable across KBs."""
    return zhiku.search(body.kbs, body.query, top_k=body.top_k, mode=body.mode, file_glob=body.file,
                        rerank=body.rerank)


@router.post("/ask", response_model=Answer, responses={
    200: {"description": "the answer (JSON), or with `stream: true` a text/event-stream of events "
                         "start, delta (repeated), citations, done (error only when it fails after it started)",
          "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}}},
    **responses(400, 404, 422)})
async def ask(body: AskBody, request: Request, readable: ReadableKBIds, zhiku: ZhikuDep) -> Answer | StreamingResponse:
    """Answer from the knowledge bases with numbered citations; says so when they hold no answer.
    ``kbs: ["*"]``: all the caller may read, the question routed to those that fit it (named in the
    answer's ``kbs`` and its first line)."""
    asked = AnswerRequest(mode="kb", kbs=body.kbs, question=body.question, top_k=body.top_k, retrieval=body.mode,
                          extractive=True, rerank=body.rerank)
    asked = routed(asked, lambda: readable_names(zhiku, readable))
    prepared = await run_in_threadpool(zhiku.answers.prepare, asked)
    return await respond(request, lambda control: zhiku.answers.events(prepared, control), prepared.timeouts,
                         answer_of, body.stream, lambda _: sse.AskEncoder(), zhiku.settings.server.sse_heartbeat_s)
