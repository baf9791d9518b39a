"""Files of a knowledge base: upload (as a background job), list, read, download, delete, re-ingest."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from zhiku.api.deps import FileId, KBRead, KBWrite, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.uploads import receive_files
from zhiku.schema.jobs import Job
from zhiku.schema import Chunk, FileRecord

router = APIRouter(prefix="/api/kbs/{kb}/files", tags=["files"])

UPLOAD_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
    }}},
}


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name per RFC 5987 (Chinese names survive)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in name) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get("", responses=responses(404, 422))
def list_files(
    kb: KBRead, zhiku: ZhikuDep,
    status_: Annotated[Literal["pending", "indexed", "failed"] | None, Query(alias="status")] = None,
) -> list[FileRecord]:
    """Every file of the KB with its status (pending, indexed, failed with its reason)."""
    files = zhiku.list_files(kb.name)
    return [f for f in files if status_ is None or f.status == status_]


@router.post("", status_code=status.HTTP_202_ACCEPTED, openapi_extra={"requestBody": UPLOAD_BODY},
             responses=responses(400, 404, 413, 422, 503))
async def upload_files(
    kb: KBWrite, request: Request, zhiku: ZhikuDep,  # 403/404 before the body is read
    force: Annotated[bool, Query(description="re-ingest files even when unchanged")] = False,
) -> Job:
    """Upload one or many files (multipart, one part per file, field ``files``).

    The bytes are streamed to disk as they arrive, within ``server.max_upload_mb`` per request
    and ``ingest.max_file_mb`` per file (413 otherwise, nothing kept). Returns 202 with the
    ingestion job: poll ``GET /api/jobs/{id}`` or follow ``GET /api/jobs/{id}/events``."""
    await run_in_threadpool(zhiku.kb, kb.name)
    staging = await run_in_threadpool(zhiku.stage_upload)
    try:
        await receive_files(request, staging)
        return await run_in_threadpool(zhiku.submit_upload, kb.name, staging, force)
    except BaseException:
        await run_in_threadpool(staging.discard)
        raise


@router.get("/{file_id}", responses=responses(404, 422))
def get_file(kb: KBRead, file_id: FileId, zhiku: ZhikuDep) -> FileRecord:
    return zhiku.file(kb.name, file_id)


@router.delete("/{file_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 422))
def delete_file(kb: KBWrite, file_id: FileId, zhiku: ZhikuDep) -> Response:
    zhiku.delete_file(kb.name, file_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{file_id}/content", response_class=FileResponse, responses={
    200: {"content": {"application/octet-stream": {}, "application/pdf": {}},
          "description": "the original bytes, or one page of a PDF (``page``)"}, **responses(400, 404, 422)})
def download_file(
    kb: KBRead, file_id: FileId, zhiku: ZhikuDep,
    page: Annotated[int | None, Query(description="only this page (1-based) of a PDF, "
                                      "as a one-page PDF: the page a citation points at")] = None,
) -> Response:
    """The original file as uploaded (always as an attachment), or one page of a PDF."""
    record, path = zhiku.file_content(kb.name, file_id)
    if page is not None:
        from zhiku.ingest.loaders.pdf_pages import page_file_name, pdf_page

        return Response(pdf_page(path, record.name, page), media_type="application/pdf", headers={
            "Content-Disposition": content_disposition(page_file_name(record.name, page)),
            "X-Content-Type-Options": "nosniff"})
    media_type = mimetypes.guess_type(record.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media_type, headers={
        "Content-Disposition": content_disposition(record.name), "X-Content-Type-Options": "nosniff"})


@router.post("/{file_id}/reingest", status_code=status.HTTP_202_ACCEPTED, responses=responses(404, 422, 503))
def reingest_file(kb: KBWrite, file_id: FileId, zhiku: ZhikuDep) -> Job:
    """Read, split and embed the stored original again (a background job); chunk edits are lost."""
    return zhiku.reingest(kb.name, file_id)


@router.get("/{file_id}/chunks", tags=["chunks"], responses=responses(404, 422))
def list_file_chunks(kb: KBRead, file_id: FileId, zhiku: ZhikuDep) -> list[Chunk]:
    return zhiku.file_chunks(kb.name, file_id)[1]
