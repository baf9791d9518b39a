"""The chat models this server can answer with: configured, pulled and detected, with reachability."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from zhiku.api.deps import ZhikuDep
from zhiku.api.errors import responses
from zhiku.client.models import ChatModelInfo
from zhiku.api.security import Scope

router = APIRouter(prefix="/api", tags=["chat models"])


@router.get("/models", responses=responses(422), dependencies=[Depends(Scope("read"))])
async def list_models(
    zhiku: ZhikuDep,
    check: bool = Query(False, description="ask each model's server whether it answers (slower)"),
) -> list[ChatModelInfo]:
    """Every chat model a conversation can pick; `check=true` adds whether each one answers now.
    With none configured, answers are extractive."""
    infos = await run_in_threadpool(zhiku.list_chat_models, check)
    return [ChatModelInfo(name=i.name, type=i.type, target=i.target, model=i.model, source=i.source,
                          default=i.default, reachable=i.reachable, reason=i.reason) for i in infos]
