"""Dependencies shared by the routers (``Annotated`` aliases, as in full-stack-fastapi-template).

Authorisation is declared, never called: a route names what it needs in its signature, and the
dependency checks it before the route runs (``zhiku.api.security`` says how).

- a ``{kb}`` path parameter: ``kb: KBRead`` (search and read), ``KBWrite`` (change its content) or
  ``KBOwner`` (rename or delete it, manage its grants); the route gets the :class:`AuthorizedKB`.
- knowledge bases named in the body: the body itself comes through the dependency, declared next
  to the route: ``body: Annotated[SearchRequest, Depends(kbs_in_body("read", SearchRequest,
  lambda b: b.kbs, covers=["kbs"]))]`` (the route must not declare the body again: it would be
  validated, and its errors reported, twice). A query parameter: ``kb_in_query``; a streamed
  form: ``KBInForm``; anything else: ``KBsNamed``. Jobs: ``JobRead`` / ``JobWrite``; creating a
  KB: ``ClaimKB``.
- no knowledge base: ``ReadScope`` / ``WriteScope`` / ``AdminScope`` (or, when the route does not
  use the caller, ``dependencies=[Depends(Scope("read"))]`` on the decorator), ``AdminUserDep``,
  ``ReadableKBIds`` for listings, ``CallerRead`` / ``CallerWrite`` for what belongs to the caller
  alone (``Caller("read")`` on the decorator when the route does not use it); ``CallerDep`` (no
  scope) only for the caller's own session, on the pinned list of tests/api/test_route_authorization.py.
"""

from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Depends, Path, Request

from zhiku.api.security import (
    AdminUser,
    AuthorizedKB,
    Caller,
    CreatesKB,
    JobOfKB,
    ReadableKBs,
    Scope,
    kb_in_path,
)
from zhiku.app import Zhiku
from zhiku.auth import Principal
from zhiku.schema.jobs import Job


async def get_zhiku(request: Request) -> Zhiku:  # async: no trip to the thread pool
    return request.app.state.zhiku


ZhikuDep = Annotated[Zhiku, Depends(get_zhiku)]
KBName = Annotated[str, Path(description="knowledge base name (URL-encoded; Chinese is fine)", min_length=1)]
FileId = Annotated[str, Path(description="file id (as listed by the files route)", pattern=r"^[0-9a-f]{32}$")]
JobId = Annotated[str, Path(description="job id", pattern=r"^[0-9a-f]{32}$")]
ChunkId = Annotated[int, Path(description="chunk id", ge=1)]

# the knowledge base of a {kb} path parameter, authorised
KBRead = Annotated[AuthorizedKB, Depends(kb_in_path("read", KBName))]
KBWrite = Annotated[AuthorizedKB, Depends(kb_in_path("write", KBName))]
KBOwner = Annotated[AuthorizedKB, Depends(kb_in_path("admin", KBName))]
# an ingestion job, when the caller may read / change its knowledge base
JobRead = Annotated[Job, Depends(JobOfKB("read", JobId))]
JobWrite = Annotated[Job, Depends(JobOfKB("write", JobId))]
# creating a knowledge base (write scope): call it with the new KB's name to make the caller its owner
ClaimKB = Annotated[Callable[[str], None], Depends(CreatesKB(covers=("name",)))]

# no knowledge base: the caller, checked
ReadScope = Annotated[Principal, Depends(Scope("read"))]
WriteScope = Annotated[Principal, Depends(Scope("write"))]
AdminScope = Annotated[Principal, Depends(Scope("admin"))]
AdminUserDep = Annotated[Principal, Depends(AdminUser())]
ReadableKBIds = Annotated[set[str] | None, Depends(ReadableKBs())]
# what belongs to the caller alone (their conversations, file-chat uploads), with the scope it needs
CallerRead = Annotated[Principal, Depends(Caller("read"))]
CallerWrite = Annotated[Principal, Depends(Caller("write"))]
# the caller's own session only (me, logout, password, revoking the key they hold): no scope
CallerDep = Annotated[Principal, Depends(Caller())]
