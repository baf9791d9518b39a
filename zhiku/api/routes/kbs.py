"""Knowledge bases: create, list, read, update (name, description), delete; embedders."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from zhiku.api.deps import ClaimKB, KBOwner, KBRead, ReadableKBIds, ZhikuDep
from zhiku.api.errors import responses
from zhiku.client.models import Embedders, KBCreate, KBUpdate
from zhiku.api.security import Scope
from zhiku.schema import KnowledgeBase

router = APIRouter(prefix="/api", tags=["knowledge bases"])


@router.get("/kbs", responses=responses(401, 403))
def list_kbs(readable: ReadableKBIds, zhiku: ZhikuDep) -> list[KnowledgeBase]:
    """The knowledge bases the caller may read (admins: all)."""
    return [k for k in zhiku.list_kbs() if readable is None or k.id in readable]


@router.post("/kbs", status_code=status.HTTP_201_CREATED, responses=responses(400, 401, 403, 409, 422))
def create_kb(body: KBCreate, claim: ClaimKB, zhiku: ZhikuDep) -> KnowledgeBase:
    """Create an empty knowledge base; the caller owns it."""
    kb = zhiku.create_kb(body.name, body.description, body.embedder)
    claim(kb.name)
    return kb


@router.get("/kbs/{kb}", responses=responses(404, 422))
def get_kb(kb: KBRead, zhiku: ZhikuDep) -> KnowledgeBase:
    return zhiku.kb(kb.name)


@router.patch("/kbs/{kb}", responses=responses(400, 403, 404, 409, 422))
def update_kb(kb: KBOwner, body: KBUpdate, zhiku: ZhikuDep) -> KnowledgeBase:
    """Rename the KB or change its description (its owner and admins)."""
    return zhiku.update_kb(kb.name, new_name=body.name, description=body.description)


@router.delete("/kbs/{kb}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(403, 404, 409, 422))
def delete_kb(kb: KBOwner, zhiku: ZhikuDep) -> Response:
    """Delete the KB with its files, chunks, indexes and job history (409 while it ingests; its
    owner and admins)."""
    zhiku.delete_kb(kb.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/embedders", dependencies=[Depends(Scope("read"))])
def list_embedders(zhiku: ZhikuDep) -> Embedders:
    """Embedders a new knowledge base can use, and the default one."""
    return Embedders(default=zhiku.settings.embedding.default, names=zhiku.settings.embedder_names())
