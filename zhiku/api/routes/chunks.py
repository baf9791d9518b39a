"""Chunks: read, edit (re-embedded and re-indexed at once), delete. A file's chunks are
listed under ``/api/kbs/{kb}/files/{file_id}/chunks``."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from zhiku.api.deps import ChunkId, KBRead, KBWrite, ZhikuDep
from zhiku.api.errors import responses
from zhiku.client.models import ChunkEdit
from zhiku.schema import Chunk

router = APIRouter(prefix="/api/kbs/{kb}/chunks", tags=["chunks"])


@router.get("/{chunk_id}", responses=responses(404, 422))
def get_chunk(kb: KBRead, chunk_id: ChunkId, zhiku: ZhikuDep) -> Chunk:
    return zhiku.chunk(kb.name, chunk_id)


@router.patch("/{chunk_id}", responses=responses(400, 404, 422))
def edit_chunk(kb: KBWrite, chunk_id: ChunkId, body: ChunkEdit, zhiku: ZhikuDep) -> Chunk:
    """Replace the chunk's text; search finds the new text as soon as this returns."""
    return zhiku.edit_chunk(kb.name, chunk_id, body.text)


@router.delete("/{chunk_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422))
def delete_chunk(kb: KBWrite, chunk_id: ChunkId, zhiku: ZhikuDep) -> Response:
    zhiku.delete_chunk(kb.name, chunk_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
