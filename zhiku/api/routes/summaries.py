"""Summaries of a knowledge base and of its files: read (made now when missing or stale, then
stored) and made again (``POST``). A file is named by its id or its name, folders included
(``wiki/Home.md``), as the files routes list it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from zhiku.api.deps import KBRead, KBWrite, ZhikuDep
from zhiku.api.errors import responses
from zhiku.schema import limits
from zhiku.schema.summaries import Summary, SummaryRequest

router = APIRouter(prefix="/api/kbs/{kb}", tags=["summaries"])

FileName = Annotated[str, Path(min_length=1, max_length=limits.FILE_NAME_MAX_CHARS,
                               description="the file's id, or its name as listed (folders included)")]
NO_BODY = SummaryRequest()


@router.get("/summary", responses=responses(404, 422, 502, 503))
def kb_summary(kb: KBRead, zhiku: ZhikuDep) -> Summary:
    """The KB's summary, from its description and its files' summaries (``kind``: llm, with the
    ``model`` that wrote it, or extractive: quoted sentences, when no chat model is configured)."""
    return zhiku.summaries.of_kb(kb.name)


@router.post("/summary", responses=responses(400, 404, 422, 502, 503))
def make_kb_summary(kb: KBWrite, zhiku: ZhikuDep,
                    body: Annotated[SummaryRequest | None, Body()] = None) -> Summary:
    """Make the KB's summary again now (and every file's too with ``files``)."""
    b = body or NO_BODY
    return zhiku.summaries.of_kb(kb.name, refresh=True, model=b.model, extractive=b.extractive, refresh_files=b.files)


@router.get("/summaries", responses=responses(404, 422))
def stored_summaries(kb: KBRead, zhiku: ZhikuDep) -> list[Summary]:
    """The file summaries made so far (none is made here; ``stale``: its file changed since), for a
    file table."""
    return zhiku.summaries.listed(kb.name)


@router.get("/files/{file:path}/summary", responses=responses(400, 404, 422, 502, 503))
def file_summary(kb: KBRead, file: FileName, zhiku: ZhikuDep) -> Summary:
    """A file's summary: map-reduce over its chunks by the chat model, or its most central sentences."""
    return zhiku.summaries.file(kb.name, file)


@router.post("/files/{file:path}/summary", responses=responses(400, 404, 422, 502, 503))
def make_file_summary(kb: KBWrite, file: FileName, zhiku: ZhikuDep,
                      body: Annotated[SummaryRequest | None, Body()] = None) -> Summary:
    """Make a file's summary again now."""
    b = body or NO_BODY
    return zhiku.summaries.file(kb.name, file, refresh=True, model=b.model, extractive=b.extractive)
