"""The async client in-process, and the client's own parts: SSE parsing, errors, no server."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.api.conftest import SICK, ZH
from zhiku.client import AsyncZhikuClient, ZhikuClient
from zhiku.client.events import SSEParser
from zhiku.client.routes import error_from_response
from zhiku.errors import (
    ConfigError,
    Conflict,
    InvalidInput,
    MissingDependency,
    NotFound,
    TooLarge,
    Unavailable,
    ZhikuError,
)


@pytest.mark.anyio
async def test_async_client_in_process(aclient: AsyncZhikuClient) -> None:
    async with aclient as zk:
        await zk.create_kb("手册", description="制度")
        job = await zk.upload("手册", [("leave.md", ZH.encode()), ("sick.md", SICK.encode())])
        events = [j async for j in zk.job_events(job.id)]
        assert events[-1].status == "done" and events[-1].files_done == 2
        assert (await zk.wait_for_job(job.id)).status == "done"
        files = await zk.list_files("手册")
        assert {f.name for f in files} == {"leave.md", "sick.md"}
        sick = next(f for f in files if f.name == "sick.md")
        assert await zk.download("手册", sick.id) == SICK.encode()
        chunk = (await zk.list_chunks("手册", sick.id))[0]
        assert (await zk.edit_chunk("手册", chunk.id, "病假需要医院证明。")).text == "病假需要医院证明。"
        assert (await zk.get_chunk("手册", chunk.id)).meta["edited"] is True
        hits = await zk.search(["手册"], "医院证明", mode="lexical")
        assert hits[0].chunk_id == chunk.id
        answer = await zk.ask("手册", "年假有几天？")
        assert answer.found and answer.citations[0].file == "leave.md"
        streamed = [e async for e in zk.ask_stream("手册", "年假有几天？")]
        assert streamed[-1].answer == answer
        assert [j.id for j in await zk.list_jobs(kb="手册")] == [job.id]
        with pytest.raises(Conflict):
            await zk.cancel_job(job.id)
        with pytest.raises(NotFound):
            await zk.get_kb("nope")
        await zk.delete_chunk("手册", chunk.id)
        await zk.delete_file("手册", sick.id)
        await zk.delete_job(job.id)
        assert (await zk.update_kb("手册", description="新")).description == "新"
        assert (await zk.health()).status == "ok" and (await zk.version()).version
        assert "static" in (await zk.embedders()).names
        await zk.delete_kb("手册")
        assert await zk.list_kbs() == []


def test_sse_parser() -> None:
    parser = SSEParser()
    lines = [": keep-alive", "", "event: progress", 'data: {"a":', "data: 1}", "", "data: plain", "",
             "id: 7", "event: end", "data:x", ""]
    events = [ev for line in lines if (ev := parser.feed(line)) is not None]
    assert events == [("progress", '{"a":\n1}'), ("message", "plain"), ("end", "x")]


def _response(status: int, body: object) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_errors_are_rebuilt_as_the_core_raises_them() -> None:
    def err(status: int, type_: str, **details: object) -> ZhikuError:
        return error_from_response(_response(status, {"error": {"type": type_, "message": "m", "details": details}}))

    assert type(err(404, "not_found", name="x")) is NotFound and err(404, "not_found", name="x").details == {"name": "x"}
    assert type(err(400, "config_error")) is ConfigError
    assert type(err(413, "too_large")) is TooLarge
    dep = err(503, "missing_dependency", package="faiss")
    assert type(dep) is MissingDependency and dep.message == "m" and isinstance(dep, Unavailable)
    validation = err(422, "validation_error", errors=[])
    assert type(validation) is InvalidInput and validation.kind == "validation_error"
    assert validation.status_code == 422  # type: ignore[attr-defined]
    assert type(err(405, "method_not_allowed")) is ZhikuError
    odd = error_from_response(httpx.Response(502, text="<html>bad gateway</html>"))
    assert type(odd) is ZhikuError and "502" in odd.message


def test_no_server_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with ZhikuClient(f"http://127.0.0.1:{port}", timeout=5) as client:
        with pytest.raises(Unavailable, match="cannot reach"):
            client.health()
    with pytest.raises(ConfigError):
        ZhikuClient("127.0.0.1:7861")


def test_uploading_nothing_or_a_missing_path(asgi: ZhikuClient, tmp_path: object) -> None:
    asgi.create_kb("kb")
    with pytest.raises(InvalidInput):
        asgi.upload("kb", [])
    with pytest.raises(InvalidInput, match="no such file"):
        asgi.upload("kb", ["/nonexistent/file.md"])
