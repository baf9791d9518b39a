"""Chatchat's ``recreate_vector_store`` (its ``kb_doc_api.py``): the event stream of re-ingesting
every stored original of a KB, and what it does for a KB that does not exist (creates it, with
``allow_empty_kb``, as Chatchat 0.3 does)."""

from __future__ import annotations

from typing import Any, AsyncIterator

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from zhiku.api import sse
from zhiku.api.routes.chatchat_common import ON_UNKNOWN_KB, ON_UNKNOWN_KB_REQUEST, data_line, finished, job_failures
from zhiku.api.security import CreatesKB
from zhiku.app import Zhiku
from zhiku.errors import NotFound, ZhikuError
from zhiku.schema import FileRecord


async def recreate_events(zhiku: Zhiku, kb: str, files: list[FileRecord]) -> AsyncIterator[bytes]:
    total = len(files)
    for i, f in enumerate(files, 1):
        try:
            job = await run_in_threadpool(zhiku.reingest, kb, f.id)
            failures = job_failures(await finished(zhiku, job.id))
        except ZhikuError as exc:
            failures = {f.name: exc.message}
        if failures:
            reason = "; ".join(failures.values())
            yield data_line({"code": 500, "msg": f"添加文件‘{f.name}’到知识库‘{kb}’时出错：{reason}。已跳过。",
                             "total": total, "finished": i, "doc": f.name})
        else:
            yield data_line({"code": 200, "msg": f"({i} / {total}): {f.name}", "total": total, "finished": i,
                             "doc": f.name})


def _recreate_unknown(name: str, request: Request) -> StreamingResponse:
    """recreate_vector_store of a KB that does not exist. As in Chatchat 0.3 (``kb_doc_api.py``): with
    ``allow_empty_kb`` (its default) the KB is created, empty and owned by the caller (who has the write
    scope: the route asked for it), and the stream has no event, there being no file to add; without
    it, one event saying so. A KB that exists but that the caller may not see is not created again
    (its name is taken): the caller gets the "not found" event, as for any KB hidden from them."""

    async def events() -> AsyncIterator[bytes]:
        try:
            body = await request.json()
        except ValueError:
            body = None
        allowed = not isinstance(body, dict) or body.get("allow_empty_kb", True) is not False
        if allowed:
            error = await _create_empty(name, body if isinstance(body, dict) else {}, request)
            if error is None:
                return
            if error:
                yield data_line({"code": 404, "msg": error})
                return
        yield data_line({"code": 404, "msg": f"未找到知识库 ‘{name}’"})

    return StreamingResponse(events(), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


async def _create_empty(name: str, body: dict[str, Any], request: Request) -> str | None:
    """Create the KB ``name`` for recreate_vector_store: None when created, "" when a KB of that name
    exists (hidden from the caller), else why it could not be."""
    zhiku: Zhiku = request.app.state.zhiku
    try:
        await run_in_threadpool(zhiku.kb, name)
        return ""
    except NotFound:
        pass
    claim = await CreatesKB(covers=["knowledge_base_name"])(request)  # the write scope, as create_knowledge_base asks
    embed = body.get("embed_model")
    embedder = embed if isinstance(embed, str) and embed in zhiku.settings.embedder_names() else None
    try:
        kb = await run_in_threadpool(zhiku.create_kb, name, "", embedder)
    except ZhikuError as exc:
        return "" if "already exists" in exc.message else exc.message
    claim(kb.name)
    return None


ON_UNKNOWN_KB_REQUEST["/knowledge_base/recreate_vector_store"] = _recreate_unknown
ON_UNKNOWN_KB["/knowledge_base/search_docs"] = lambda name: JSONResponse([])
