"""Knowledge bases: create, list, read, update (name, description), delete; embedders."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from zhiku.api.deps import KBName, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.models import Embedders, KBCreate, KBUpdate
from zhiku.schema import KnowledgeBase

router = APIRouter(prefix="/api", tags=["knowledge bases"])


@router.get("/kbs")
def list_kbs(zhiku: ZhikuDep) -> list[KnowledgeBase]:
    return zhiku.list_kbs()


@router.post("/kbs", status_code=status.HTTP_201_CREATED, responses=responses(400, 409, 422))
def create_kb(body: KBCreate, zhiku: ZhikuDep) -> KnowledgeBase:
    return zhiku.create_kb(body.name, body.description, body.embedder)


@router.get("/kbs/{kb}", responses=responses(404, 422))
def get_kb(kb: KBName, zhiku: ZhikuDep) -> KnowledgeBase:
    return zhiku.kb(kb)


@router.patch("/kbs/{kb}", responses=responses(400, 404, 409, 422))
def update_kb(kb: KBName, body: KBUpdate, zhiku: ZhikuDep) -> KnowledgeBase:
    return zhiku.update_kb(kb, new_name=body.name, description=body.description)


@router.delete("/kbs/{kb}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 409, 422))
def delete_kb(kb: KBName, zhiku: ZhikuDep) -> Response:
    """Delete the KB with its files, chunks, indexes and job history (409 while it ingests)."""
    zhiku.delete_kb(kb)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/embedders")
def list_embedders(zhiku: ZhikuDep) -> Embedders:
    """Embedders a new knowledge base can use, and the default one."""
    return Embedders(default=zhiku.settings.embedding.default, names=zhiku.settings.embedder_names())
