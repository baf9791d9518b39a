"""The folders a knowledge base follows (``zhiku kb sync``): follow, list, sync, stop following.

A folder is a path on the server's file system, so following one needs an admin (with the admin
scope: checked first, as granting access is) as well as the KB's owner access: a KB owner who is not an admin could otherwise read any
folder the server can. Syncing a followed folder again needs write access to the KB; reading the
sources, read access. A sync runs in the background: the source's ``report`` shows its progress
(``files_done`` of ``files_total``, the ``current`` file) and then each file's outcome.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import BaseModel, Field

from zhiku.api.deps import AdminUserDep, KBOwner, KBRead, KBWrite, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.security import Scope
from zhiku.schema.sources import KBSource

router = APIRouter(prefix="/api", tags=["knowledge bases"])
SourceId = Annotated[str, Path(description="source id (as listed by the sources route)", pattern=r"^[0-9a-f]{32}$")]


class SourceCreate(BaseModel):
    path: str = Field(min_length=1, description="a folder on the server's file system")
    watch: bool | None = Field(
        None, description="keep it in sync while the server runs (a folder followed already: unchanged when null)")


@router.get("/kbs/{kb}/sources", responses=responses(404, 422))
def list_sources(kb: KBRead, zhiku: ZhikuDep) -> list[KBSource]:
    """The folders the KB follows, each with its last (or running) sync's report."""
    return zhiku.sources.list_sources(kb.name)


@router.post("/kbs/{kb}/sources", status_code=status.HTTP_202_ACCEPTED,
             dependencies=[Depends(Scope("admin"))], responses=responses(400, 403, 404, 409, 422))
def add_source(kb: KBOwner, _admin: AdminUserDep, body: SourceCreate, zhiku: ZhikuDep) -> KBSource:
    """Follow a folder of the server (admins) and start syncing it: poll the source for progress.
    A folder followed already is synced again (and its ``watch`` updated when given); while a sync of
    it runs already, that sync is the one asked for and the source is returned as it stands."""
    return zhiku.sources.follow_in_background(kb.name, body.path, body.watch)


@router.get("/kbs/{kb}/sources/{source_id}", responses=responses(404, 422))
def get_source(kb: KBRead, source_id: SourceId, zhiku: ZhikuDep) -> KBSource:
    """One followed folder: its sync's progress while it runs, each file's outcome once done."""
    return zhiku.sources.get(kb.name, source_id)


@router.post("/kbs/{kb}/sources/{source_id}/sync", status_code=status.HTTP_202_ACCEPTED,
             responses=responses(404, 409, 422))
def sync_source(kb: KBWrite, source_id: SourceId, zhiku: ZhikuDep) -> KBSource:
    """Sync the folder now (409 while it is being synced)."""
    return zhiku.sources.sync_in_background(kb.name, source_id)


@router.delete("/kbs/{kb}/sources/{source_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=responses(403, 404, 422))
def remove_source(kb: KBOwner, source_id: SourceId, zhiku: ZhikuDep) -> Response:
    """Stop following the folder; the files it brought stay in the KB."""
    zhiku.sources.remove(kb.name, source_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
