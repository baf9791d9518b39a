"""Knowledge-base upkeep: re-derive the indexes from the database, check that database,
stored files and indexes agree (and repair what can be repaired)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from zhiku.api.deps import KBName, ZhikuDep
from zhiku.api.errors import responses
from zhiku.client.models import CheckResult, RebuildResult
from zhiku.api.security import authorize_kb

router = APIRouter(prefix="/api", tags=["knowledge bases"])


@router.post("/kbs/{kb}/rebuild", responses=responses(404, 409, 422))
async def rebuild_kb(kb: KBName, request: Request, zhiku: ZhikuDep) -> RebuildResult:
    """Re-derive the KB's vector and BM25 indexes from the database (searches wait meanwhile)."""
    authorize_kb(request, kb, "write")
    chunks = await run_in_threadpool(zhiku.rebuild, kb)
    return RebuildResult(kb=kb, chunks=chunks)


@router.post("/kbs/{kb}/check", responses=responses(404, 422))
async def check_kb(
    kb: KBName, request: Request, zhiku: ZhikuDep,
    repair: bool = Query(False, description="fix what can be fixed (needs write access)"),
) -> CheckResult:
    """Check that database, stored files and indexes agree; with `repair`, fix what can be fixed."""
    authorize_kb(request, kb, "write" if repair else "read")
    problems = await run_in_threadpool(zhiku.check, kb, repair)
    remaining = await run_in_threadpool(zhiku.check, kb) if repair and problems else problems
    repaired = [p for p in problems if repair and p not in remaining]
    return CheckResult(kb=kb, consistent=not remaining, problems=problems, repaired=repaired, remaining=remaining)
