"""Moving a knowledge base to another index backend or embedder while it answers (``zhiku kb migrate``;
zhiku.store.migrate says how): start it (202, runs in the background), follow its progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from zhiku.api.deps import KBOwner, KBRead, ZhikuDep
from zhiku.api.errors import responses
from zhiku.app import Zhiku
from zhiku.ingest.kb_migration import Migrations

router = APIRouter(prefix="/api", tags=["knowledge bases"])


class MigrateBody(BaseModel):
    to: str | None = Field(None, description="embedded, postgres or milvus (omitted: stay on the current one)")
    embedder: str | None = Field(None, max_length=200, description="re-embed every chunk with this embedder")


def migrations(zhiku: Zhiku) -> Migrations:
    """The server's one ``Migrations`` (made on first use; progress itself is in the database)."""
    found = zhiku.__dict__.get("_kb_migrations")
    if found is None:
        found = zhiku.__dict__.setdefault("_kb_migrations", Migrations(zhiku.catalog, zhiku.indexes,
                                                                       zhiku.embedders))
    return found


@router.post("/kbs/{kb}/migrate", status_code=202, responses=responses(400, 404, 409, 422))
async def start_migration(kb: KBOwner, body: MigrateBody, zhiku: ZhikuDep) -> dict[str, Any]:
    """Build the KB's indexes on another backend (`to`) and/or with another embedder in the background
    while the current copy answers, then switch at once and drop the old copy. 409 while one runs."""
    return await run_in_threadpool(migrations(zhiku).start, kb.name, body.to, body.embedder)


@router.get("/kbs/{kb}/migrate", responses=responses(404, 422))
async def migration_progress(kb: KBRead, zhiku: ZhikuDep) -> dict[str, Any]:
    """The KB's last migration: status (none, copying, switching, switched, done; `error` when it
    stopped), chunks done of total, `running`, and where the KB is now (`backend`, `current_embedder`)."""
    found = await run_in_threadpool(migrations(zhiku).progress, kb.name)
    if found is None:
        info = zhiku.catalog.get_kb(kb.name)
        return {"kb": info.name, "status": "none", "running": False, "done": 0, "total": 0, "error": None,
                "backend": info.index_backend or zhiku.indexes.default_kind, "current_embedder": info.embedder}
    return found
