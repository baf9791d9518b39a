"""Langchain-Chatchat 0.3's knowledge-base routes (``/knowledge_base/...``) over zhiku's services.

Request fields, defaults and response shapes follow Chatchat's ``kb_api.py`` / ``kb_doc_api.py``
and its ``ApiRequest`` client; what differs is listed in docs/chatchat-compat.md. File names are
only ever matched against the catalog: no request value becomes a path.
"""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any, Callable

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from zhiku.api import sse
from zhiku.api.deps import ReadableKBIds, ZhikuDep
from zhiku.api.routes.chatchat_common import (
    DISTANCE_MAX,
    ChatchatRoute,
    CompatBody,
    chunk_document,
    envelope,
    finished,
    form_bool,
    hit_document,
    job_failures,
    like_glob,
    metadata_matches,
    name_matcher,
    receive_form,
    within_threshold,
)
from zhiku.api.routes.chatchat_docs import parse_docs, replace_chunks
from zhiku.api.routes.chatchat_recreate import recreate_events
from zhiku.api.routes.files import content_disposition
from zhiku.api.security import AuthorizedKB, CreatesKB, FormKBCheck, KBInForm, KBsInBody, Need, kb_in_query, kbs_in_body
from zhiku.app import Zhiku
from zhiku.errors import InvalidInput, NotFound, ZhikuError
from zhiku.ingest.jobs import clean_upload_name
from zhiku.schema import FileRecord, KnowledgeBase, limits

router = APIRouter(prefix="/knowledge_base", tags=["chatchat-compatible"], route_class=ChatchatRoute,
                   include_in_schema=False)

DEFAULT_TOP_K = 3  # Chatchat's VECTOR_SEARCH_TOP_K
# shown inline with ``preview=true``; anything else (HTML, SVG, office files) is always an attachment
INLINE_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"}
TEXT_TYPES = {"text/plain", "text/markdown", "text/csv", "text/tab-separated-values"}
# the reason a file kept by delete_docs(delete_content=false) gives for not being searchable
UNINDEXED = ("removed from the vector store (delete_docs with delete_content=false); its stored copy is kept: "
             "update_docs, recreate_vector_store or a re-ingest indexes it again")

EMPTY_NAME = "知识库名称不能为空，请重新填写知识库名称"
KBNameField = Annotated[str, Field(min_length=1, max_length=limits.KB_NAME_MAX_CHARS, description="知识库名称")]


class CreateKB(CompatBody):
    # may be empty: Chatchat answers an empty name with its own message (code 404), not a validation error
    knowledge_base_name: str = Field(max_length=limits.KB_NAME_MAX_CHARS, description="知识库名称")
    vector_store_type: str = Field("faiss", max_length=limits.NAME_MAX_CHARS)
    kb_info: str = Field("", max_length=limits.DESCRIPTION_MAX_CHARS)
    embed_model: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)


class KBNameBody(CompatBody):
    knowledge_base_name: KBNameField


class SearchDocs(CompatBody):
    query: str = Field("", max_length=limits.QUESTION_MAX_CHARS)
    knowledge_base_name: KBNameField
    top_k: int = Field(DEFAULT_TOP_K, ge=1, le=200)
    score_threshold: float = Field(DISTANCE_MAX, ge=0.0, le=DISTANCE_MAX)
    file_name: str = Field("", max_length=limits.FILE_NAME_MAX_CHARS)
    metadata: dict[str, Any] = Field(default_factory=dict, max_length=limits.MESSAGES_MAX)


class DeleteDocs(CompatBody):
    knowledge_base_name: KBNameField
    file_names: list[Annotated[str, Field(max_length=limits.FILE_NAME_MAX_CHARS)]] = Field(max_length=limits.FILE_NAMES_MAX)
    delete_content: bool = False
    not_refresh_vs_cache: bool = False


class UpdateInfo(CompatBody):
    knowledge_base_name: KBNameField
    kb_info: str = Field(max_length=limits.DESCRIPTION_MAX_CHARS)


class UpdateDocs(CompatBody):
    knowledge_base_name: KBNameField
    file_names: list[Annotated[str, Field(max_length=limits.FILE_NAME_MAX_CHARS)]] = Field(max_length=limits.FILE_NAMES_MAX)
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    zh_title_enhance: bool | None = None
    override_custom_docs: bool = False
    docs: Annotated[str, Field(max_length=limits.MESSAGE_MAX_CHARS)] | dict[str, Any] = ""
    not_refresh_vs_cache: bool = False


class RecreateVectorStore(CompatBody):
    knowledge_base_name: KBNameField
    allow_empty_kb: bool = True
    vs_type: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)
    embed_model: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    zh_title_enhance: bool | None = None
    not_refresh_vs_cache: bool = False


# -- where each route names its knowledge base, and what it may do with it ----------------------------
NamedKB = "knowledge_base_name"
DeleteKBBody = Annotated[str | KBNameBody, Body(description="the name as a JSON string (as Chatchat's client "
                                                            "sends it), or {\"knowledge_base_name\": ...}")]
KBToDelete = Annotated[str | KBNameBody, Depends(kbs_in_body(
    "admin", DeleteKBBody, lambda b: [n] if (n := b if isinstance(b, str) else b.knowledge_base_name) else None,
    covers=[NamedKB]))]
KBInQuery = Annotated[AuthorizedKB, Depends(kb_in_query("read", Annotated[str, Query(min_length=1)], NamedKB))]
CreatorOfKB = Annotated[Callable[[str], None], Depends(CreatesKB(covers=[NamedKB]))]
UploadKBCheck = Annotated[FormKBCheck, Depends(KBInForm("write", NamedKB))]


def _named(need: Need, body: type[CompatBody]) -> KBsInBody:
    """The body, once the caller may ``need`` the KB of its ``knowledge_base_name``."""
    return kbs_in_body(need, body, lambda b: [b.knowledge_base_name], covers=[NamedKB])


UpdateInfoBody = Annotated[UpdateInfo, Depends(_named("admin", UpdateInfo))]  # as renaming: its owner and admins
DeleteDocsBody = Annotated[DeleteDocs, Depends(_named("write", DeleteDocs))]
UpdateDocsBody = Annotated[UpdateDocs, Depends(_named("write", UpdateDocs))]
RecreateBody = Annotated[RecreateVectorStore, Depends(_named("write", RecreateVectorStore))]
SearchDocsBody = Annotated[SearchDocs, Depends(_named("read", SearchDocs))]


UPLOAD_FORM = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["files", NamedKB],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                   NamedKB: {"type": "string", "description": "知识库名称"},
                   **{f: {"type": "string"} for f in ("override", "to_vector_store", "chunk_size", "chunk_overlap",
                                                      "zh_title_enhance", "docs", "not_refresh_vs_cache")}},
}}}}


def kb_info(kb: KnowledgeBase) -> dict[str, Any]:
    """Chatchat's ``KnowledgeBaseSchema`` (plus zhiku's counts)."""
    return {"id": kb.id, "kb_name": kb.name, "kb_info": kb.description, "vs_type": "faiss+bm25",
            "embed_model": kb.embedder, "file_count": kb.files, "create_time": kb.created_at.isoformat(),
            "chunk_count": kb.chunks}


def file_detail(kb: str, n: int, f: FileRecord) -> dict[str, Any]:
    """Chatchat's ``get_kb_file_details`` row (plus zhiku's id, status and error)."""
    ext = f".{f.name.rsplit('.', 1)[-1].lower()}" if "." in f.name else ""
    return {"No": n, "kb_name": kb, "file_name": f.name, "file_ext": ext, "file_version": 1,
            "document_loader": "", "text_splitter": "", "docs_count": f.chunks,
            "create_time": f.created_at.isoformat(), "file_mtime": f.updated_at.timestamp(), "file_size": f.size,
            "custom_docs": False, "in_folder": True, "in_db": f.status == "indexed",
            "file_id": f.id, "status": f.status, "error": f.error}


def current_files(zhiku: Zhiku, kb: str) -> list[FileRecord]:
    """One record per file name: the indexed version, else the latest."""
    by_name: dict[str, FileRecord] = {}
    for f in zhiku.list_files(kb):
        held = by_name.get(f.name)
        if held is None or held.status != "indexed":
            by_name[f.name] = f
    return list(by_name.values())


def checked_file_name(name: str) -> str:
    """A file name as stored: a relative path such as ``wiki/Home.MD``, NFC; whatever could be a way
    out of the KB (``..``, absolute paths, backslashes, drive letters, control characters) is
    refused with 400. The name is only matched against the catalog, never used as a path."""
    return clean_upload_name(name)


async def apply_docs(zhiku: Zhiku, kb: str, custom: dict[str, list[str]], failed: dict[str, str]) -> None:
    """Custom docs replace the chunks of their files; a file that cannot take them goes to ``failed``."""
    for name, texts in custom.items():
        if name in failed:
            continue
        try:
            await run_in_threadpool(replace_chunks, zhiku, kb, checked_file_name(name), texts)
        except ZhikuError as exc:
            failed[name] = f"为 {name} 添加自定义docs时出错：{exc.message}"


# -- knowledge bases ------------------------------------------------------------------------------
@router.get("/list_knowledge_bases")
def list_knowledge_bases(readable: ReadableKBIds, zhiku: ZhikuDep) -> dict[str, Any]:
    """The knowledge bases the caller may read."""
    return envelope([kb_info(kb) for kb in zhiku.list_kbs() if readable is None or kb.id in readable])


@router.post("/create_knowledge_base")
def create_knowledge_base(body: CreateKB, claim: CreatorOfKB, zhiku: ZhikuDep) -> dict[str, Any]:
    """An empty knowledge base, owned by the caller. ``embed_model`` is used when zhiku has an
    embedder of that name (Chatchat's model names mean zhiku's default); ``vector_store_type`` is
    not (zhiku's index is always FAISS + BM25)."""
    if not body.knowledge_base_name.strip():
        return envelope(None, EMPTY_NAME, 404)  # Chatchat's answer, word for word
    embedder = body.embed_model if body.embed_model in zhiku.settings.embedder_names() else None
    kb = zhiku.create_kb(body.knowledge_base_name, body.kb_info, embedder)
    claim(kb.name)
    return envelope(kb_info(kb), f"已新增知识库 {kb.name}")


@router.post("/delete_knowledge_base")
def delete_knowledge_base(body: KBToDelete, zhiku: ZhikuDep) -> dict[str, Any]:
    name = body if isinstance(body, str) else body.knowledge_base_name
    if not name:
        raise InvalidInput("name the knowledge base to delete")
    zhiku.delete_kb(name)
    return envelope(None, f"成功删除知识库 {name}")


@router.post("/update_info")
def update_info(body: UpdateInfoBody, zhiku: ZhikuDep) -> dict[str, Any]:
    zhiku.update_kb(body.knowledge_base_name, description=body.kb_info)
    return envelope({"kb_info": body.kb_info}, "知识库介绍修改完成")


# -- files -----------------------------------------------------------------------------------------
@router.get("/list_files")
def list_files(kb: KBInQuery, zhiku: ZhikuDep) -> dict[str, Any]:
    files = current_files(zhiku, kb.name)
    return envelope([file_detail(kb.name, n, f) for n, f in enumerate(files, 1)])


@router.post("/upload_docs", openapi_extra={"requestBody": UPLOAD_FORM})
async def upload_docs(request: Request, check_kb: UploadKBCheck, zhiku: ZhikuDep) -> dict[str, Any]:
    """Multipart: ``files`` parts and the form fields of Chatchat's ``upload_docs``. Answers when
    the files are indexed (as Chatchat does); the work runs as a zhiku ingestion job."""
    staging = await run_in_threadpool(zhiku.stage_upload)
    try:
        fields = await receive_form(request, staging, check_kb)  # the KB is checked before any later file part
        kb = fields.get("knowledge_base_name", "")
        if not kb:
            raise InvalidInput("the form field knowledge_base_name is required")
        override = form_bool(fields, "override", False)
        form_bool(fields, "to_vector_store", True)  # checked; files are always indexed
        custom = parse_docs(fields.get("docs", ""))
        if not staging.files:
            raise InvalidInput("no files: send one 'files' part per file")
        job = await run_in_threadpool(zhiku.submit_upload, kb, staging, override)
    except BaseException:
        await run_in_threadpool(staging.discard)
        raise
    done = await finished(zhiku, job.id)
    failed = job_failures(done)
    await apply_docs(zhiku, kb, custom, failed)
    return envelope({"failed_files": failed, "job_id": done.id}, "文件上传与向量化完成")


@router.post("/delete_docs")
def delete_docs(body: DeleteDocsBody, zhiku: ZhikuDep) -> dict[str, Any]:
    """Removes the files from the vector store. With ``delete_content`` (Chatchat's "从知识库中删除")
    they are erased, stored copy and all; without it ("从向量库删除") each is kept, not searchable,
    as a ``failed`` file saying so (listed with ``in_db: false``), and ``update_docs`` or
    ``recreate_vector_store`` index it again, as in Chatchat."""
    names = [checked_file_name(n) for n in body.file_names]
    zhiku.kb(body.knowledge_base_name)
    failed: dict[str, str] = {}
    for name in names:
        try:
            if body.delete_content:
                zhiku.remove_files(body.knowledge_base_name, [name])
            else:
                zhiku.unindex_file(body.knowledge_base_name, name, UNINDEXED)
        except NotFound:
            failed[name] = f"未找到文件 {name}"
    return envelope({"failed_files": failed}, "文件删除完成")


@router.post("/update_docs")
async def update_docs(body: UpdateDocsBody, zhiku: ZhikuDep) -> dict[str, Any]:
    """Re-reads, splits and embeds the stored originals (one re-ingest job per file); a file given
    custom ``docs`` gets those as its chunks instead (the KB page's chunk editor)."""
    names = [checked_file_name(n) for n in body.file_names]
    custom = parse_docs(body.docs)
    kb = body.knowledge_base_name
    await run_in_threadpool(zhiku.kb, kb)
    failed: dict[str, str] = {}
    jobs = []
    for name in names:
        if name in custom:
            continue
        try:
            record, _ = await run_in_threadpool(zhiku.stored_file, kb, name)
            jobs.append(await run_in_threadpool(zhiku.reingest, kb, record.id))
        except ZhikuError as exc:
            failed[name] = exc.message
    for job in jobs:
        failed.update(job_failures(await finished(zhiku, job.id)))
    await apply_docs(zhiku, kb, custom, failed)
    return envelope({"failed_files": failed}, "更新文档完成")


@router.get("/download_doc", response_model=None)
def download_doc(
    kb: KBInQuery, zhiku: ZhikuDep, file_name: Annotated[str, Query(min_length=1)], preview: bool = False,
) -> FileResponse:
    """The stored original, found through the catalog by name (never a path from the request)."""
    checked_file_name(file_name)
    record, path = zhiku.stored_file(kb.name, file_name)
    if not path.is_file():
        raise NotFound(f"the stored copy of '{record.name}' is missing", file_name=file_name)
    media_type = mimetypes.guess_type(record.name)[0] or "application/octet-stream"
    if media_type in TEXT_TYPES:
        media_type = "text/plain"  # shown as text, never interpreted
    disposition = content_disposition(record.name)
    if preview and media_type in INLINE_TYPES:
        disposition = "inline" + disposition[len("attachment"):]
    return FileResponse(path, media_type=media_type, headers={
        "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox"})


@router.post("/recreate_vector_store")
async def recreate_vector_store(body: RecreateBody, zhiku: ZhikuDep) -> StreamingResponse:
    """Re-ingests every file of the KB from its stored original, streaming one JSON progress
    line per file as server-sent events, as Chatchat does."""
    kb = body.knowledge_base_name
    files = [f for f in await run_in_threadpool(current_files, zhiku, kb) if f.status != "pending"]
    return StreamingResponse(recreate_events(zhiku, kb, files), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


# -- search ----------------------------------------------------------------------------------------
@router.post("/search_docs")
def search_docs(body: SearchDocsBody, zhiku: ZhikuDep) -> list[dict[str, Any]]:
    """With a query: hybrid search; ``score_threshold`` and ``score`` on Chatchat's documented
    scale (a distance, lower is closer: ``1 - relevance``; ``metadata.relevance`` is zhiku's
    [0, 1] score, higher is better).
    Without one: the chunks of the files matching ``file_name`` / ``metadata``."""
    kb = body.knowledge_base_name
    if body.query.strip():
        glob = like_glob(body.file_name) if body.file_name else None
        hits = zhiku.search([kb], body.query, top_k=body.top_k, file_glob=glob)
        docs = [hit_document(h) for h in hits]
        docs = within_threshold(docs, body.score_threshold)
    elif body.file_name or body.metadata:
        zhiku.kb(kb)
        match = name_matcher(body.file_name or "%")
        docs = []
        for f in current_files(zhiku, kb):
            if f.status == "indexed" and match(f.name):
                _, chunks = zhiku.file_chunks(kb, f.id)
                docs += [chunk_document(kb, f.name, c) for c in chunks]
    else:
        zhiku.kb(kb)
        return []
    return [d for d in docs if metadata_matches(d, body.metadata)]
