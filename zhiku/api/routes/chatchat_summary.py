"""Langchain-Chatchat 0.3's ``/knowledge_base/kb_summary_api/*`` over zhiku's summaries
(``zhiku.chat.summaries``), with Chatchat's request bodies and answers:

- ``summary_file_to_vector_store``: one file's summary made again; an event stream with one line
  ``{"code": 200, "msg": "<file> 总结完成", "doc": <file>}`` (or code 500 and Chatchat's message);
- ``recreate_summary_vector_store``: every file's summary made again, one progress line per file
  (``{"code", "msg": "(i / n): <file>", "total", "finished", "doc"}``), then the KB's summary;
- ``summary_doc_ids_to_vector_store``: a summary of the given chunks (the ``id`` search_docs gives),
  not stored: ``{"code": 200, "msg": "总结完成", "data": {"summarize": [Document]}}``.

Where Chatchat writes the summaries into a separate vector store, zhiku stores them beside the
KB's chunks (each with its vector), where KB-level questions find them. ``model_name`` is used when
zhiku has a chat model of that name, else zhiku's default one; with none the summary is extractive
(the most central sentences) and each answer says so. ``temperature`` and ``max_tokens`` are not
used (the summary's length follows the model's context window); ``vs_type``/``embed_model`` are the KB's.
"""

from __future__ import annotations

from typing import Annotated, Any, AsyncIterator

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from zhiku.api import sse
from zhiku.api.deps import ZhikuDep
from zhiku.api.routes.chatchat_common import ON_UNKNOWN_KB, ChatchatRoute, CompatBody, data_line, envelope
from zhiku.api.security import KBsInBody, Need, kbs_in_body
from zhiku.app import Zhiku
from zhiku.errors import ZhikuError
from zhiku.schema import limits

router = APIRouter(prefix="/knowledge_base/kb_summary_api", tags=["chatchat-compatible"], route_class=ChatchatRoute,
                   include_in_schema=False)
PREFIX = "/knowledge_base/kb_summary_api"
NamedKB = "knowledge_base_name"
EXTRACTIVE_NOTE = "（未配置对话模型：摘要为抽取式，即文件中最核心的句子 / extractive summary: no chat model）"


class SummaryBody(CompatBody):
    knowledge_base_name: str = Field(min_length=1, max_length=limits.KB_NAME_MAX_CHARS, description="知识库名称")
    allow_empty_kb: bool = True
    vs_type: str = Field("faiss", max_length=limits.NAME_MAX_CHARS)
    embed_model: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)
    file_description: str = Field("", max_length=limits.DESCRIPTION_MAX_CHARS)
    model_name: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)
    temperature: float = Field(0.01, ge=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=0)


class FileSummaryBody(SummaryBody):
    file_name: str = Field(min_length=1, max_length=limits.FILE_NAME_MAX_CHARS)


class DocIdsBody(SummaryBody):
    doc_ids: list[Annotated[str | int, Field()]] = Field(default_factory=list, max_length=limits.EMBED_INPUTS_MAX)


def _named(need: Need, body: type[SummaryBody]) -> KBsInBody:
    return kbs_in_body(need, body, lambda b: [b.knowledge_base_name], covers=[NamedKB])


FileBody = Annotated[FileSummaryBody, Depends(_named("write", FileSummaryBody))]
KBBody = Annotated[SummaryBody, Depends(_named("write", SummaryBody))]
IdsBody = Annotated[DocIdsBody, Depends(_named("write", DocIdsBody))]  # model calls, as the others


def _model(zhiku: Zhiku, name: str | None) -> str | None:
    """Chatchat's ``model_name`` when zhiku has a chat model of that name (else the default)."""
    if not name:
        return None
    try:
        zhiku.chat_models.config(name)
    except ZhikuError:
        return None
    return name


def _stream(lines: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(lines, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


def _failed(kb: str, file: str, exc: ZhikuError) -> dict[str, Any]:
    return {"code": 500, "msg": f"知识库'{kb}'总结文件‘{file}’时出错。已跳过。", "error": exc.message, "doc": file}


@router.post("/summary_file_to_vector_store")
async def summary_file_to_vector_store(body: FileBody, zhiku: ZhikuDep) -> StreamingResponse:
    kb, file, model = body.knowledge_base_name, body.file_name, _model(zhiku, body.model_name)

    async def lines() -> AsyncIterator[bytes]:
        try:
            made = await run_in_threadpool(zhiku.summaries.file, kb, file, True, model)
        except ZhikuError as exc:
            yield data_line(_failed(kb, file, exc))
            return
        note = EXTRACTIVE_NOTE if made.kind == "extractive" else ""
        yield data_line({"code": 200, "msg": f"{file} 总结完成{note}", "doc": file, "summary": made.text,
                         "kind": made.kind, "model": made.model})

    return _stream(lines())


@router.post("/recreate_summary_vector_store")
async def recreate_summary_vector_store(body: KBBody, zhiku: ZhikuDep) -> StreamingResponse:
    kb, model = body.knowledge_base_name, _model(zhiku, body.model_name)
    files = [f.name for f in await run_in_threadpool(zhiku.list_files, kb) if f.status == "indexed"]

    async def lines() -> AsyncIterator[bytes]:
        total = len(files)
        for i, file in enumerate(files, 1):
            try:
                made = await run_in_threadpool(zhiku.summaries.file, kb, file, True, model)
            except ZhikuError as exc:
                yield data_line(_failed(kb, file, exc))
                continue
            yield data_line({"code": 200, "msg": f"({i} / {total}): {file}", "total": total, "finished": i,
                             "doc": file, "kind": made.kind, "model": made.model})
        try:  # the KB's own summary, from the files' (zhiku's addition: no line of its own)
            await run_in_threadpool(zhiku.summaries.of_kb, kb, True, model)
        except ZhikuError:
            pass

    return _stream(lines())


@router.post("/summary_doc_ids_to_vector_store")
async def summary_doc_ids_to_vector_store(body: IdsBody, zhiku: ZhikuDep) -> dict[str, Any]:
    kb = await run_in_threadpool(zhiku.kb, body.knowledge_base_name)
    ids = [int(i) for i in body.doc_ids if str(i).strip().isdigit()]
    found = await run_in_threadpool(zhiku.catalog.chunks_by_id, ids)
    chosen = [(i, found[i]) for i in ids if i in found and found[i][0].kb_id == kb.id]
    if not chosen:
        return envelope({"summarize": []}, "总结完成：没有找到这些 doc_ids 对应的文档", 200)
    texts = [chunk.text for _, (chunk, _) in chosen]
    name = chosen[0][1][1].name
    text, kind, model = await run_in_threadpool(
        zhiku.summaries.of_texts, kb.name, name, texts, _model(zhiku, body.model_name))
    meta = {"file_description": body.file_description, "summary_intermediate_steps": {"kind": kind, "model": model},
            "doc_ids": ",".join(str(i) for i, _ in chosen)}
    doc = {"page_content": text, "metadata": meta, "type": "Document", "id": None}
    return envelope({"summarize": [doc]}, "总结完成" + (EXTRACTIVE_NOTE if kind == "extractive" else ""))


def _unknown_stream(name: str) -> StreamingResponse:
    return StreamingResponse(iter([data_line({"code": 404, "msg": f"未找到知识库 ‘{name}’"})]),
                             media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


ON_UNKNOWN_KB[f"{PREFIX}/summary_file_to_vector_store"] = _unknown_stream
ON_UNKNOWN_KB[f"{PREFIX}/recreate_summary_vector_store"] = _unknown_stream
