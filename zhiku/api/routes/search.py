"""Search and ask over one or several knowledge bases."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from zhiku.api import sse
from zhiku.api.deps import ZhikuDep
from zhiku.api.errors import responses
from zhiku.client.models import AskRequest, SearchRequest
from zhiku.api.security import authorize_kbs
from zhiku.schema import Answer, Hit

router = APIRouter(prefix="/api", tags=["search and answers"])


@router.post("/search", responses=responses(400, 404, 422))
def search(body: SearchRequest, request: Request, zhiku: ZhikuDep) -> list[Hit]:
    """Hybrid (or dense, or lexical) search; scores in [0, 1], higher is better, comparable across KBs."""
    authorize_kbs(request, body.kbs, "read")
    return zhiku.search(body.kbs, body.query, top_k=body.top_k, mode=body.mode, file_glob=body.file)


@router.post("/ask", response_model=Answer, responses={
    200: {"description": "the answer (JSON), or with `stream: true` a text/event-stream of events "
                         "start, delta (repeated), citations, done",
          "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}}},
    **responses(400, 404, 422)})
async def ask(body: AskRequest, request: Request, zhiku: ZhikuDep) -> Answer | StreamingResponse:
    """Answer from the knowledge bases with numbered citations; says so when they hold no answer."""
    await run_in_threadpool(authorize_kbs, request, body.kbs, "read")
    answer = await run_in_threadpool(zhiku.ask, body.kbs, body.question, body.top_k, body.mode)
    if body.stream:
        return StreamingResponse(sse.answer_events(answer), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
    return answer
