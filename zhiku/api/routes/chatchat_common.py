"""What the Chatchat-compatible routes share: the response envelope, the error policy,
multipart forms with their fields, waiting for ingestion jobs, Chatchat's document shapes.

Envelope and errors, as Chatchat 0.3 answers them: ``{"code": 200, "msg": "...", "data": ...}``,
and a failure of the request's *content* (an unknown or duplicate knowledge base, an empty name,
a file that cannot be read) inside an HTTP 200 with Chatchat's ``code`` and message
(``{"code": 404, "msg": "未找到知识库 x"}``); zhiku's one error object rides beside it::

    HTTP 200
    {"code": 404, "msg": "未找到知识库 x", "data": null,
     "error": {"type": "not_found", "message": "knowledge base 'x' does not exist", "details": {...}}}

Kept as real HTTP statuses, because Chatchat has them too or because a client must not read
them as success: request validation (422, as FastAPI answers in Chatchat), authentication and
access (401/403: Chatchat has none), a body over the size limits (413). :class:`ChatchatRoute`
is the one place this happens; docs/chatchat-compat.md lists each case.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from zhiku.api.edge import checked_base_url
from zhiku.api.errors import HTTP_TYPES, error_body, status_of
from zhiku.api.uploads import receive_files
from zhiku.app import Zhiku
from zhiku.errors import Conflict, InvalidInput, NotFound, ZhikuError
from zhiku.ingest.jobs import UploadStaging
from zhiku.schema.jobs import ACTIVE, Job
from zhiku.schema import Chunk, Hit

log = logging.getLogger(__name__)

# routes whose success ``data`` is a list: their errors carry ``data: []`` (Chatchat's clients
# read ``r.get("data", [])`` and iterate it)
LIST_ROUTES = {"/knowledge_base/list_knowledge_bases", "/knowledge_base/list_files"}
DISTANCE_MAX = 2.0  # the largest score_threshold Chatchat accepts (anything from 1 up keeps every hit)


def data_line(obj: dict[str, Any]) -> bytes:
    """One server-sent event holding one JSON object, as Chatchat's streams send them."""
    return f"data: {json.dumps(obj, ensure_ascii=False, default=str)}\n\n".encode()


class CompatBody(BaseModel):
    """A Chatchat request body: unknown fields are ignored, as FastAPI's ``Body`` parameters do."""

    model_config = ConfigDict(extra="ignore")


def envelope(data: Any = None, msg: str = "success", code: int = 200) -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}


def error_response(status: int, type_: str, message: str, details: dict[str, Any] | None = None,
                   data: Any = None, headers: dict[str, str] | None = None) -> JSONResponse:
    """A real HTTP error status; Chatchat's ``code``/``msg``/``data`` beside zhiku's ``error``."""
    body = {**envelope(data, message, status), **error_body(type_, message, details)}
    return JSONResponse(body, status_code=status, headers=headers)


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if isinstance(v, (str, int, float, bool, list, dict, type(None)))}


# statuses kept as real HTTP statuses on the compat routes (see the module's docstring)
REAL_STATUSES = {401, 403, 413}
# routes whose clients are OpenAI's (the web UI's KB chat goes through the openai SDK, which reads
# the HTTP status, and would take an HTTP 200 error for a completion): every error keeps its status
OPENAI_SHAPED = {"/knowledge_base/{mode}/{param}/chat/completions", "/knowledge_base/chat/completions"}


def chatchat_message(exc: ZhikuError) -> str:
    """Chatchat's own words for the failures its clients and tests look for; zhiku's otherwise."""
    name = exc.details.get("name")
    if isinstance(name, str) and "knowledge base" in exc.message:
        if isinstance(exc, NotFound):
            return f"未找到知识库 {name}"
        if isinstance(exc, Conflict) and "already exists" in exc.message:
            return f"已存在同名知识库 {name}"
    return exc.message


def chatchat_code(exc: ZhikuError) -> int:
    """Chatchat's ``code``: its 404 for a duplicate name as for an unknown one; else the status zhiku
    would answer with."""
    if isinstance(exc, Conflict) and "already exists" in exc.message:
        return 404
    return status_of(exc)


def in_body_error(code: int, msg: str, type_: str, message: str, details: dict[str, Any] | None = None,
                  data: Any = None) -> JSONResponse:
    """HTTP 200 with Chatchat's ``code``/``msg``, zhiku's ``error`` beside them."""
    return JSONResponse({**envelope(data, msg, code), **error_body(type_, message, details)})


def unknown_kb(exc: ZhikuError) -> str | None:
    """The name of the knowledge base an error says does not exist (or may not be read)."""
    name = exc.details.get("name")
    return name if isinstance(exc, NotFound) and isinstance(name, str) and "knowledge base" in exc.message else None


# per route: what it answers for an unknown knowledge base instead of the error envelope, as
# Chatchat does (search_docs: ``[]``; recreate_vector_store: an event stream), given its name (and, in
# the second table, the request too)
ON_UNKNOWN_KB: dict[str, Callable[[str], Response]] = {}
ON_UNKNOWN_KB_REQUEST: dict[str, Callable[[str, Request], Response]] = {}


class ChatchatRoute(APIRoute):
    """Turns every error raised by a compat route (zhiku errors, request validation, HTTP
    exceptions, anything unexpected) into Chatchat's answer (see the module's docstring)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()
        empty: Any = [] if self.path in LIST_ROUTES else None
        path = self.path

        async def route(request: Request) -> Any:
            try:
                return await handler(request)
            except ZhikuError as exc:
                status = status_of(exc)
                if status >= 500:
                    log.warning("%s %s: %s", request.method, request.url.path, exc.message)
                if status in REAL_STATUSES or path in OPENAI_SHAPED:
                    return error_response(status, exc.kind, exc.message, _plain(exc.details), empty)
                if (name := unknown_kb(exc)) is not None and path in ON_UNKNOWN_KB_REQUEST:
                    return ON_UNKNOWN_KB_REQUEST[path](name, request)
                if (name := unknown_kb(exc)) is not None and path in ON_UNKNOWN_KB:
                    return ON_UNKNOWN_KB[path](name)
                return in_body_error(chatchat_code(exc), chatchat_message(exc), exc.kind, exc.message,
                                     _plain(exc.details), empty)
            except RequestValidationError as exc:
                problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                            for e in exc.errors()]
                summary = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems[:5])
                return error_response(422, "validation_error", f"invalid request: {summary}",
                                      {"errors": jsonable_encoder(problems)}, empty)
            except StarletteHTTPException as exc:
                type_ = HTTP_TYPES.get(exc.status_code, "invalid_input" if exc.status_code < 500 else "error")
                return error_response(exc.status_code, type_, str(exc.detail), None, empty,
                                      getattr(exc, "headers", None))
            except Exception:
                log.exception("unexpected error in %s %s", request.method, request.url.path)
                return in_body_error(500, "internal server error: see the server log", "internal_error",
                                     "internal server error: see the server log", None, empty)

        return route


# -- multipart forms: file parts streamed to staging, small fields kept ----------------------------
async def receive_form(request: Request, staging: UploadStaging,
                       on_field: Callable[[str, str], None] | None = None) -> dict[str, str]:
    """Stream the file parts of a multipart request into ``staging`` (zhiku's size limits
    apply) and return its text fields; ``on_field`` sees each field as soon as it is complete
    (in a worker thread), before any later file part is written."""
    return await receive_files(request, staging, on_field,
                               "send a multipart/form-data body: the form fields and one 'files' part per file")


def form_bool(fields: dict[str, str], name: str, default: bool) -> bool:
    """A boolean form field as FastAPI's ``Form(bool)`` reads it (httpx sends ``True``/``False``)."""
    raw = fields.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise InvalidInput(f"form field '{name}' must be true or false, not {raw!r}", field=name)


def form_int(fields: dict[str, str], name: str, default: int) -> int:
    raw = fields.get(name)
    if raw is None or raw.strip() in ("", "None"):
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"form field '{name}' must be an integer, not {raw!r}", field=name) from None


# -- ingestion jobs, waited for (Chatchat's document routes answer when the work is done) ------------
async def finished(zhiku: Zhiku, job_id: str, poll_s: float = 1.0) -> Job:
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    def notify() -> None:  # called from an ingestion thread
        loop.call_soon_threadsafe(changed.set)

    unsubscribe = zhiku.watch_job(job_id, notify)
    try:
        while True:
            changed.clear()
            job = await run_in_threadpool(zhiku.job, job_id)
            if job.status not in ACTIVE:
                return job
            try:
                await asyncio.wait_for(changed.wait(), poll_s)
            except TimeoutError:
                pass
    finally:
        unsubscribe()


def job_failures(job: Job) -> dict[str, str]:
    """Chatchat's ``failed_files``: name → reason, for files that did not make it into the KB."""
    out: dict[str, str] = {}
    for f in job.files:
        if f.outcome in ("failed", "cancelled"):
            out[f.name] = f.detail or f.outcome
        elif f.outcome == "skipped":
            out[f.name] = f"文件 {f.name} 已存在 ({f.detail or 'unchanged'}); send override=true to process it again"
    if job.status in ("failed", "cancelled", "interrupted") and not out:
        out = {f.name: job.error or job.status for f in job.files}
    return out


# -- Chatchat's document shapes -----------------------------------------------------------------------
def distance(score: float) -> float:
    """zhiku's relevance (in [0, 1], higher is better) as Chatchat's documented score: a distance,
    lower is closer, ``1 - relevance``. A ``score_threshold`` of 1 or more (Chatchat's docs say 1
    in one place and 2 in another) keeps everything; 0.5, Chatchat's suggestion, keeps hits of
    relevance 0.5 and above."""
    return round(1.0 - max(0.0, min(1.0, score)), 6)


def hit_document(hit: Hit) -> dict[str, Any]:
    """A search hit as Chatchat's ``DocumentWithVSId.dict()``."""
    meta = {"source": hit.file, "file_id": hit.file_id, "kb": hit.kb, "page": hit.page, "section": hit.section,
            "chunk_id": hit.chunk_id, "relevance": hit.score, "dense_score": hit.dense_score,
            "lexical_score": hit.lexical_score}
    return {"page_content": hit.text, "metadata": meta, "type": "Document", "id": str(hit.chunk_id),
            "score": distance(hit.score)}


def within_threshold(docs: list[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """Chatchat's ``score_threshold`` as its retriever applies it. Chatchat 0.3 fuses a BM25 half,
    which always contributes its top_k whatever the threshold, with a FAISS half the threshold
    narrows; so it never answers an empty list for a query over a non-empty KB. Here: a hit the
    lexical index scored (a query term in it: ``lexical_score > 0``) is always kept; a hit only the vector index found is kept when its
    distance (``score``, ``1 - relevance``) is at most ``threshold``; and when that would keep
    nothing, every hit is kept (where Chatchat would have returned its BM25 half)."""
    kept = [d for d in docs if (d["metadata"].get("lexical_score") or 0.0) > 0.0 or d["score"] <= threshold]
    return kept or docs


def chunk_document(kb: str, file: str, chunk: Chunk) -> dict[str, Any]:
    meta = {**chunk.meta, "source": file, "file_id": chunk.file_id, "kb": kb, "page": chunk.page,
            "section": " / ".join(chunk.section) or None, "chunk_id": chunk.id, "seq": chunk.seq}
    return {"page_content": chunk.text, "metadata": meta, "type": "Document", "id": str(chunk.id), "score": None}


def like_glob(pattern: str) -> str:
    """Chatchat's ``file_name`` filter is an SQL LIKE pattern (``%`` and ``_``); ``*``/``?`` work too."""
    return "".join({"%": "*", "_": "?", "[": "[[]"}.get(c, c) for c in pattern)


def name_matcher(pattern: str) -> Callable[[str], bool]:
    glob = like_glob(pattern).casefold()
    return lambda name: fnmatch.fnmatchcase(name.casefold(), glob)


def metadata_matches(doc: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(doc["metadata"].get(k) == v for k, v in wanted.items())


def references(request: Request, kb: str, docs: list[dict[str, Any]]) -> list[str]:
    """Chatchat's ``format_reference``: markdown source lines linking to ``download_doc``."""
    base = checked_base_url(request)  # never a hostile Host header
    out = []
    for n, doc in enumerate(docs, 1):
        name = doc["metadata"]["source"]
        url = f"{base}/knowledge_base/download_doc?" + urlencode({"knowledge_base_name": kb, "file_name": name})
        out.append(f"出处 [{n}] [{name}]({url}) \n\n{doc['page_content']}\n\n")
    return out


def plain_references(docs: list[dict[str, Any]]) -> list[str]:
    """The source lines of file chat (its files cannot be downloaded: no link)."""
    return [f"出处 [{n}] [{d['metadata']['source']}] \n\n{d['page_content']}\n\n" for n, d in enumerate(docs, 1)]
