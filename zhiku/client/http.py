"""The one typed HTTP client of zhiku's API, sync (``ZhikuClient``) and async (``AsyncZhikuClient``).

Errors come back as the same ``ZhikuError`` subclasses the core raises, rebuilt from
the error body (``NotFound``, ``Conflict``, ``InvalidInput``, ``TooLarge``...); the
instance carries ``status_code`` and the body's ``type`` as ``kind``. A server that
cannot be reached raises ``Unavailable``.

    with ZhikuClient("http://127.0.0.1:7861") as zk:
        zk.create_kb("手册")
        job = zk.wait_for_job(zk.upload("手册", ["a.pdf", "b.docx"]).id)
        print(zk.ask(["手册"], "年假有几天？").answer)

Each route is described once in ``zhiku.client.routes``; both clients only execute the descriptions.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from typing import Any, AsyncIterator, Iterator, Sequence

import httpx

from zhiku.client.auth_methods import AsyncAuthMethods, AuthMethods
from zhiku.client.chat_methods import AsyncChatMethods, ChatMethods
from zhiku.client.settings_methods import SettingsMethods
from zhiku.client.picture_methods import PictureMethods
from zhiku.client.summary_methods import AsyncSummaryMethods, SummaryMethods
from zhiku.client.source_methods import AsyncSourceMethods, SourceMethods
from zhiku.client.events import AnswerEvent, ChatEvent, SSEParser, answer_event, job_event
from zhiku.client.models import ChatModelInfo, CheckResult, Embedders, Health, RebuildResult, Version
from zhiku.client.routes import (
    DEFAULT_URL,
    Call,
    Routes,
    UploadItem,
    check_url,
    error_from_response,
    unreachable,
    upload_parts,
)
from zhiku.errors import Unavailable
from zhiku.schema import Answer, Chunk, FileRecord, Hit, KnowledgeBase
from zhiku.schema.jobs import ACTIVE, Job

__all__ = ["AnswerEvent", "AsyncZhikuClient", "ChatEvent", "ZhikuClient", "error_from_response"]


def _http_args(base_url: str, api_key: str | None, timeout: float) -> dict[str, Any]:
    check_url(base_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    # idle connections are dropped well before a server would close them (uvicorn: 5 s by default)
    limits = httpx.Limits(keepalive_expiry=KEEPALIVE_S)
    return {"base_url": base_url.rstrip("/"), "headers": headers, "timeout": httpx.Timeout(timeout), "limits": limits}


KEEPALIVE_S = 2.0
IDEMPOTENT = ("GET", "HEAD", "PUT", "DELETE")
# a kept-alive connection the server closed as we reused it: safe to send an idempotent request again
STALE_CONNECTION = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)


STREAM_TIMEOUT = httpx.Timeout(60.0, read=None)  # event streams stay open while a job runs


class ZhikuClient(PictureMethods, ChatMethods, AuthMethods, SettingsMethods, SummaryMethods, SourceMethods):
    """Synchronous client. ``transport`` plugs in any httpx transport (tests use an in-process app)."""

    def __init__(self, base_url: str = DEFAULT_URL, *, api_key: str | None = None, timeout: float = 120.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(transport=transport, **_http_args(base_url, api_key, timeout))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> "ZhikuClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call, **kw: Any) -> httpx.Response:
        try:
            try:
                response = self.http.request(call.method, call.path, params=call.params, json=call.json, **kw)
            except STALE_CONNECTION:
                if call.method not in IDEMPOTENT:
                    raise
                response = self.http.request(call.method, call.path, params=call.params, json=call.json, **kw)
        except httpx.TransportError as exc:
            raise unreachable(self.http.base_url, exc) from None
        if not response.is_success:
            raise error_from_response(response)
        return response

    def _do(self, call: Call, **kw: Any) -> Any:
        response = self._send(call, **kw)
        return call.parse(response.json()) if call.parse else None

    def _events(self, call: Call) -> Iterator[tuple[str, str]]:
        try:
            with self.http.stream(call.method, call.path, json=call.json, timeout=STREAM_TIMEOUT) as response:
                if not response.is_success:
                    response.read()
                    raise error_from_response(response)
                parser = SSEParser()
                for line in response.iter_lines():
                    if (ev := parser.feed(line)) is not None:
                        yield ev
        except httpx.TransportError as exc:
            raise unreachable(self.http.base_url, exc) from None

    # -- system and knowledge bases --------------------------------------------------
    def health(self) -> Health:
        return self._do(Routes.health())

    def version(self) -> Version:
        return self._do(Routes.version())

    def embedders(self) -> Embedders:
        return self._do(Routes.embedders())

    def list_models(self, check: bool = False) -> list[ChatModelInfo]:
        """The chat models the server can answer with; ``check`` asks each whether it answers now."""
        return self._do(Routes.list_models(check))

    def list_kbs(self) -> list[KnowledgeBase]:
        return self._do(Routes.list_kbs())

    def create_kb(self, name: str, description: str = "", embedder: str | None = None) -> KnowledgeBase:
        return self._do(Routes.create_kb(name, description, embedder))

    def get_kb(self, kb: str) -> KnowledgeBase:
        return self._do(Routes.get_kb(kb))

    def update_kb(self, kb: str, *, new_name: str | None = None, description: str | None = None) -> KnowledgeBase:
        return self._do(Routes.update_kb(kb, new_name, description))

    def delete_kb(self, kb: str) -> None:
        self._do(Routes.delete_kb(kb))

    def rebuild_kb(self, kb: str) -> RebuildResult:
        """Re-derive the KB's indexes from the database."""
        return self._do(Routes.rebuild_kb(kb))

    def check_kb(self, kb: str, repair: bool = False) -> CheckResult:
        """Check that database, stored files and indexes agree; ``repair`` fixes what it can."""
        return self._do(Routes.check_kb(kb, repair))

    # -- files and chunks ------------------------------------------------------------
    def upload(self, kb: str, files: Sequence[UploadItem], force: bool = False) -> Job:
        """Upload paths or (name, bytes | binary file) pairs; returns the ingestion job (202)."""
        with ExitStack() as stack:
            return self._do(Routes.upload(kb, force), files=upload_parts(files, stack))

    def list_files(self, kb: str, status: str | None = None) -> list[FileRecord]:
        return self._do(Routes.list_files(kb, status))

    def get_file(self, kb: str, file_id: str) -> FileRecord:
        return self._do(Routes.get_file(kb, file_id))

    def delete_file(self, kb: str, file_id: str) -> None:
        self._do(Routes.delete_file(kb, file_id))

    def download(self, kb: str, file_id: str, page: int | None = None) -> bytes:
        """The original bytes; with ``page``, that page of a PDF as a one-page PDF."""
        return self._send(Routes.download(kb, file_id, page)).content

    def reingest(self, kb: str, file_id: str) -> Job:
        return self._do(Routes.reingest(kb, file_id))

    def list_chunks(self, kb: str, file_id: str) -> list[Chunk]:
        return self._do(Routes.list_chunks(kb, file_id))

    def get_chunk(self, kb: str, chunk_id: int) -> Chunk:
        return self._do(Routes.get_chunk(kb, chunk_id))

    def edit_chunk(self, kb: str, chunk_id: int, text: str) -> Chunk:
        return self._do(Routes.edit_chunk(kb, chunk_id, text))

    def delete_chunk(self, kb: str, chunk_id: int) -> None:
        self._do(Routes.delete_chunk(kb, chunk_id))

    # -- search and answers ----------------------------------------------------------
    def search(self, kbs: str | Sequence[str], query: str, top_k: int | None = None, mode: str | None = None,
               file: str | None = None, rerank: str | None = None) -> list[Hit]:
        """``rerank``: the reranker for this search (none, coverage, http, onnx...) instead of the server's."""
        return self._do(Routes.search(kbs, query, top_k, mode, file, rerank))

    def ask(self, kbs: str | Sequence[str], question: str, top_k: int | None = None,
            mode: str | None = None) -> Answer:
        return self._do(Routes.ask(kbs, question, top_k, mode, False))

    def ask_stream(self, kbs: str | Sequence[str], question: str, top_k: int | None = None,
                   mode: str | None = None) -> Iterator[AnswerEvent]:
        for name, data in self._events(Routes.ask(kbs, question, top_k, mode, True)):
            if (ev := answer_event(name, data)) is not None:
                yield ev

    # -- jobs ------------------------------------------------------------------------
    def list_jobs(self, kb: str | None = None, status: str | None = None, limit: int = 50) -> list[Job]:
        return self._do(Routes.list_jobs(kb, status, limit))

    def get_job(self, job_id: str) -> Job:
        return self._do(Routes.get_job(job_id))

    def cancel_job(self, job_id: str) -> Job:
        return self._do(Routes.cancel_job(job_id))

    def retry_job(self, job_id: str) -> Job:
        return self._do(Routes.retry_job(job_id))

    def delete_job(self, job_id: str) -> None:
        self._do(Routes.delete_job(job_id))

    def job_events(self, job_id: str) -> Iterator[Job]:
        """The job on every change (server-sent events), ending with its final state."""
        for name, data in self._events(Routes.job_events(job_id)):
            if (job := job_event(name, data)) is not None:
                yield job

    def wait_for_job(self, job_id: str, timeout: float | None = None, poll_s: float = 0.2) -> Job:
        """Poll until the job is no longer queued or running; Unavailable after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (job := self.get_job(job_id)).status in ACTIVE:
            if deadline is not None and time.monotonic() > deadline:
                raise Unavailable(f"job {job_id} still {job.status} after {timeout} s", job_id=job_id)
            time.sleep(poll_s)
        return job


class AsyncZhikuClient(AsyncChatMethods, AsyncAuthMethods, AsyncSummaryMethods, AsyncSourceMethods):
    """Asynchronous client with the same methods as ``ZhikuClient``, to be awaited."""

    def __init__(self, base_url: str = DEFAULT_URL, *, api_key: str | None = None, timeout: float = 120.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.http = httpx.AsyncClient(transport=transport, **_http_args(base_url, api_key, timeout))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> "AsyncZhikuClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call, **kw: Any) -> httpx.Response:
        try:
            try:
                response = await self.http.request(call.method, call.path, params=call.params, json=call.json, **kw)
            except STALE_CONNECTION:
                if call.method not in IDEMPOTENT:
                    raise
                response = await self.http.request(call.method, call.path, params=call.params, json=call.json, **kw)
        except httpx.TransportError as exc:
            raise unreachable(self.http.base_url, exc) from None
        if not response.is_success:
            raise error_from_response(response)
        return response

    async def _do(self, call: Call, **kw: Any) -> Any:
        response = await self._send(call, **kw)
        return call.parse(response.json()) if call.parse else None

    async def _events(self, call: Call) -> AsyncIterator[tuple[str, str]]:
        try:
            async with self.http.stream(call.method, call.path, json=call.json, timeout=STREAM_TIMEOUT) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_from_response(response)
                parser = SSEParser()
                async for line in response.aiter_lines():
                    if (ev := parser.feed(line)) is not None:
                        yield ev
        except httpx.TransportError as exc:
            raise unreachable(self.http.base_url, exc) from None

    async def health(self) -> Health:
        return await self._do(Routes.health())

    async def version(self) -> Version:
        return await self._do(Routes.version())

    async def embedders(self) -> Embedders:
        return await self._do(Routes.embedders())

    async def list_models(self, check: bool = False) -> list[ChatModelInfo]:
        return await self._do(Routes.list_models(check))

    async def list_kbs(self) -> list[KnowledgeBase]:
        return await self._do(Routes.list_kbs())

    async def create_kb(self, name: str, description: str = "", embedder: str | None = None) -> KnowledgeBase:
        return await self._do(Routes.create_kb(name, description, embedder))

    async def get_kb(self, kb: str) -> KnowledgeBase:
        return await self._do(Routes.get_kb(kb))

    async def update_kb(self, kb: str, *, new_name: str | None = None,
                        description: str | None = None) -> KnowledgeBase:
        return await self._do(Routes.update_kb(kb, new_name, description))

    async def delete_kb(self, kb: str) -> None:
        await self._do(Routes.delete_kb(kb))

    async def rebuild_kb(self, kb: str) -> RebuildResult:
        return await self._do(Routes.rebuild_kb(kb))

    async def check_kb(self, kb: str, repair: bool = False) -> CheckResult:
        return await self._do(Routes.check_kb(kb, repair))

    async def upload(self, kb: str, files: Sequence[UploadItem], force: bool = False) -> Job:
        with ExitStack() as stack:
            return await self._do(Routes.upload(kb, force), files=upload_parts(files, stack))

    async def list_files(self, kb: str, status: str | None = None) -> list[FileRecord]:
        return await self._do(Routes.list_files(kb, status))

    async def get_file(self, kb: str, file_id: str) -> FileRecord:
        return await self._do(Routes.get_file(kb, file_id))

    async def delete_file(self, kb: str, file_id: str) -> None:
        await self._do(Routes.delete_file(kb, file_id))

    async def download(self, kb: str, file_id: str, page: int | None = None) -> bytes:
        """The original bytes; with ``page``, that page of a PDF as a one-page PDF."""
        return (await self._send(Routes.download(kb, file_id, page))).content

    async def reingest(self, kb: str, file_id: str) -> Job:
        return await self._do(Routes.reingest(kb, file_id))

    async def list_chunks(self, kb: str, file_id: str) -> list[Chunk]:
        return await self._do(Routes.list_chunks(kb, file_id))

    async def get_chunk(self, kb: str, chunk_id: int) -> Chunk:
        return await self._do(Routes.get_chunk(kb, chunk_id))

    async def edit_chunk(self, kb: str, chunk_id: int, text: str) -> Chunk:
        return await self._do(Routes.edit_chunk(kb, chunk_id, text))

    async def delete_chunk(self, kb: str, chunk_id: int) -> None:
        await self._do(Routes.delete_chunk(kb, chunk_id))

    async def search(self, kbs: str | Sequence[str], query: str, top_k: int | None = None,
                     mode: str | None = None, file: str | None = None, rerank: str | None = None) -> list[Hit]:
        return await self._do(Routes.search(kbs, query, top_k, mode, file, rerank))

    async def ask(self, kbs: str | Sequence[str], question: str, top_k: int | None = None,
                  mode: str | None = None) -> Answer:
        return await self._do(Routes.ask(kbs, question, top_k, mode, False))

    async def ask_stream(self, kbs: str | Sequence[str], question: str, top_k: int | None = None,
                         mode: str | None = None) -> AsyncIterator[AnswerEvent]:
        async for name, data in self._events(Routes.ask(kbs, question, top_k, mode, True)):
            if (ev := answer_event(name, data)) is not None:
                yield ev

    async def list_jobs(self, kb: str | None = None, status: str | None = None, limit: int = 50) -> list[Job]:
        return await self._do(Routes.list_jobs(kb, status, limit))

    async def get_job(self, job_id: str) -> Job:
        return await self._do(Routes.get_job(job_id))

    async def cancel_job(self, job_id: str) -> Job:
        return await self._do(Routes.cancel_job(job_id))

    async def retry_job(self, job_id: str) -> Job:
        return await self._do(Routes.retry_job(job_id))

    async def delete_job(self, job_id: str) -> None:
        await self._do(Routes.delete_job(job_id))

    async def job_events(self, job_id: str) -> AsyncIterator[Job]:
        async for name, data in self._events(Routes.job_events(job_id)):
            if (job := job_event(name, data)) is not None:
                yield job

    async def wait_for_job(self, job_id: str, timeout: float | None = None, poll_s: float = 0.2) -> Job:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (job := await self.get_job(job_id)).status in ACTIVE:
            if deadline is not None and time.monotonic() > deadline:
                raise Unavailable(f"job {job_id} still {job.status} after {timeout} s", job_id=job_id)
            await asyncio.sleep(poll_s)
        return job
