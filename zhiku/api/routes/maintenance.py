"""Knowledge-base upkeep: re-derive the indexes from the database, check that database,
stored files and indexes agree (and repair what can be repaired)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from zhiku.api.deps import KBName, KBWrite, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.security import AuthorizedKB, KBNamed
from zhiku.client.models import CheckResult, RebuildResult

router = APIRouter(prefix="/api", tags=["knowledge bases"])
Repair = Annotated[bool, Query(description="fix what can be fixed (needs write access)")]
# reading the KB checks it; repairing it changes it: the write access checked says `repair` was asked
KBToCheck = Annotated[AuthorizedKB, Depends(KBNamed(
    lambda kb, repair: "write" if repair else "read", lambda kb, repair: [kb], covers=("kb",),
    defaults={"repair": False}, kb=KBName, repair=Repair))]


@router.post("/kbs/{kb}/rebuild", responses=responses(404, 409, 422))
async def rebuild_kb(kb: KBWrite, zhiku: ZhikuDep) -> RebuildResult:
    """Re-derive the KB's vector and BM25 indexes from the database (searches wait meanwhile)."""
    chunks = await run_in_threadpool(zhiku.rebuild, kb.name)
    return RebuildResult(kb=kb.name, chunks=chunks)


@router.post("/kbs/{kb}/check", responses=responses(404, 422))
async def check_kb(authorized: KBToCheck, zhiku: ZhikuDep) -> CheckResult:
    """Check that database, stored files and indexes agree; with `repair`, fix what can be fixed."""
    kb, repair = authorized.name, authorized.need == "write"
    problems = await run_in_threadpool(zhiku.check, kb, repair)
    remaining = await run_in_threadpool(zhiku.check, kb) if repair and problems else problems
    repaired = [p for p in problems if repair and p not in remaining]
    return CheckResult(kb=kb, consistent=not remaining, problems=problems, repaired=repaired, remaining=remaining)
