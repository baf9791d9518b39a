"""The pictures of a knowledge base's files (extracted at ingestion: docs/parsing.md, "Pictures").

- ``GET /api/kbs/{kb}/files/{file_id}/images``: the file's pictures (id, page, the chunks showing
  them, the caption when a vision model made one).
- ``GET /api/kbs/{kb}/files/{file_id}/images/{image_id}``: one picture's bytes, with its content type
  (PNG, JPEG, GIF or WebP). A citation's ``images`` are such ids.

Reading the file's KB is required, as for the file itself. A picture is served only when a chunk of
that file shows it (an id from another file or KB is 404), and only a 64-hex-digit id is ever made
into a file name (the content's SHA-256 under the KB's data folder): no part of the path a user
sends reaches the disk.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from zhiku.api.deps import FileId, KBRead, ZhikuDep
from zhiku.api.errors import responses
from zhiku.errors import NotFound
from zhiku.ingest.loaders.pictures import EXTENSIONS
from zhiku.ingest.pictures import images_dir, media_type, picture_path

router = APIRouter(prefix="/api/kbs/{kb}/files", tags=["files"])
ImageId = Annotated[str, Path(description="a picture's id (a citation's `images`)", pattern=r"^[0-9a-f]{64}$")]


@router.get("/{file_id}/images", responses=responses(404, 422))
def list_file_images(kb: KBRead, file_id: FileId, zhiku: ZhikuDep) -> list[dict[str, Any]]:
    """The file's pictures in reading order: ``id``, ``page``, ``chunks`` (the ids of the chunks
    showing it) and ``caption`` (the vision model's, when one was configured at ingestion)."""
    _, chunks = zhiku.file_chunks(kb.name, file_id)
    out: dict[str, dict[str, Any]] = {}
    for c in chunks:
        for image_id in c.meta.get("images") or []:
            entry = out.setdefault(str(image_id), {"id": str(image_id), "page": c.page, "chunks": [],
                                                   "caption": None})
            entry["chunks"].append(c.id)
            caption = (c.meta.get("captions") or {}).get(image_id)
            if caption and entry["caption"] is None:
                entry["caption"] = caption
    return list(out.values())


@router.get("/{file_id}/images/{image_id}", response_class=FileResponse, responses={
    200: {"content": {mime: {} for mime in EXTENSIONS}, "description": "the picture's bytes"},
    **responses(404, 422)})
def get_file_image(kb: KBRead, file_id: FileId, image_id: ImageId, zhiku: ZhikuDep) -> FileResponse:
    """One picture of the file (a citation's ``images`` entry)."""
    _, chunks = zhiku.file_chunks(kb.name, file_id)
    if not any(image_id in (c.meta.get("images") or []) for c in chunks):
        raise NotFound(f"file '{file_id}' of knowledge base '{kb.name}' has no picture '{image_id}'",
                       image=image_id)
    path = picture_path(images_dir(zhiku.ingestor.kbs_root, zhiku.kb(kb.name).id), image_id)
    if path is None:
        raise NotFound(f"the picture '{image_id}' is no longer stored; re-ingest the file to extract it again",
                       image=image_id)
    return FileResponse(path, media_type=media_type(path), headers={
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'",
        "Cache-Control": "private, max-age=3600"})
