"""Health and version."""

from __future__ import annotations

from importlib.metadata import version as dist_version

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from zhiku.api.deps import ZhikuDep
from zhiku.api.errors import responses
from zhiku.client.models import Health, Version

router = APIRouter(prefix="/api", tags=["system"])


def _version() -> str:
    return dist_version("zhiku")


@router.get("/health", responses=responses(503))
async def health(zhiku: ZhikuDep) -> Health:
    """Is the server up and its database reachable? 503 when not."""
    info = await run_in_threadpool(zhiku.health)
    return Health(**info, version=_version())


@router.get("/version")
async def version() -> Version:
    return Version(version=_version())
