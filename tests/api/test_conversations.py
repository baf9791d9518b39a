"""Conversations through the typed client: create, list, rename, delete, messages answered in the
conversation's mode and stored (with citations, model, latency, usage or error), feedback,
Markdown export, streaming with a stop on disconnect, and the error cases."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.api.conftest import (
    EN,
    OVERRIDES,
    ZH,
    LiveServer,
    SyncASGITransport,
    assert_error,
)
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.client import AsyncZhikuClient, ZhikuClient
from zhiku.errors import InvalidInput, NotFound, Unavailable
from zhiku.testing.llm_servers import BEHAVIOURS, ChatServer, free_port


def _kb(client: ZhikuClient, name: str = "hr") -> None:
    client.create_kb(name)
    job = client.upload(name, [("年假.md", ZH.encode()), ("refunds.md", EN.encode())])
    assert client.wait_for_job(job.id, timeout=60).status == "done"


def model_app(home: Path, base_url: str, **llm: Any) -> Zhiku:
    """An app whose default chat model ``test`` is the stand-in server's ``ok``; ``slow`` streams
    forever (``endless``), ``stalls`` goes silent after two chunks."""
    models = {"test": {"base_url": base_url, "model": "ok"}, "slow": {"base_url": base_url, "model": "endless"},
              "stalls": {"base_url": base_url, "model": "stall", "read_timeout_s": 1.0}}
    settings = {**OVERRIDES, "llm": {"default": "test", "detect_local": False, "models": models, **llm}}
    return Zhiku(load_settings(home=home, overrides=settings, environ={}))


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    with ChatServer(reply="年假是十五天 [1]。", models=BEHAVIOURS) as server:
        yield server


@pytest.fixture
def model_zk(home: Path, chat_server: ChatServer) -> Iterator[Zhiku]:
    app = model_app(home, chat_server.base_url)
    yield app
    app.close()


@pytest.fixture
def model_client(model_zk: Zhiku) -> Iterator[ZhikuClient]:
    transport = SyncASGITransport(create_app(model_zk))
    with ZhikuClient("http://zhiku.test", transport=transport) as c:
        yield c
    transport.close()


def upstream_connections(port: int) -> int:
    """Open TCP connections of this process to the stand-in model server."""
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            _, _, remote, state = line.split()[:4]
            if state == "01" and int(remote.split(":")[1], 16) == port:
                n += 1
    return n


def wait_until(check: Any, what: str, limit: float = 20.0) -> Any:
    deadline = time.monotonic() + limit
    while not (result := check()):
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)
    return result


def test_conversation_lifecycle_extractive(asgi: ZhikuClient) -> None:
    _kb(asgi)
    conv = asgi.create_conversation("kb", kbs=["hr"])
    assert conv.mode == "kb" and conv.settings.kbs == ["hr"] and conv.title == "" and conv.owner == "local"

    answer = asgi.send_message(conv.id, "年假有几天？")
    assert answer.role == "assistant" and answer.id and answer.conversation_id == conv.id
    assert answer.mode == "kb" and answer.model == "extractive" and answer.status == "complete"
    assert "十五天" in answer.content and answer.latency_ms is not None and answer.latency_ms >= 0
    assert answer.citations and answer.citations[0].file == "年假.md" and answer.meta["found"] is True

    stored = asgi.get_conversation(conv.id)
    assert stored.title == "年假有几天？"  # the first question names it
    assert [(m.seq, m.role) for m in stored.messages or []] == [(1, "user"), (2, "assistant")]
    assert stored.messages[1].model_dump() == answer.model_dump()

    other = asgi.create_conversation("kb", title="退款", kbs=["hr"])
    asgi.send_message(conv.id, "年假可以分次休吗？")  # the first conversation is the most recent again
    assert [c.id for c in asgi.list_conversations()] == [conv.id, other.id]
    assert asgi.rename_conversation(conv.id, "  年假  问题 ").title == "年假 问题"

    updated = asgi.update_conversation(other.id, settings={"top_k": 3, "strict": False})
    assert updated.settings.kbs == ["hr"] and updated.settings.top_k == 3 and updated.settings.strict is False

    asgi.delete_conversation(other.id)
    assert [c.id for c in asgi.list_conversations()] == [conv.id]
    with pytest.raises(NotFound):
        asgi.get_conversation(other.id)


def test_feedback_is_one_per_answer_and_replaceable(asgi: ZhikuClient) -> None:
    _kb(asgi)
    conv = asgi.create_conversation("kb", kbs="hr")
    answer = asgi.send_message(conv.id, "年假有几天？")
    down = asgi.feedback(answer.id or "", "down", "too short")
    assert down.rating == "down" and down.reason == "too short"
    asgi.feedback(answer.id or "", "up")
    messages = asgi.get_conversation(conv.id).messages or []
    assert messages[1].feedback is not None and messages[1].feedback.rating == "up"
    assert messages[1].feedback.reason is None and messages[0].feedback is None
    with pytest.raises(InvalidInput, match="assistant"):
        asgi.feedback(messages[0].id or "", "up")  # a question is not rated
    with pytest.raises(NotFound):
        asgi.feedback("0" * 32, "up")


def test_export_markdown(asgi: ZhikuClient) -> None:
    _kb(asgi)
    conv = asgi.create_conversation("kb", title="年假 <b>制度</b>", kbs=["hr"])
    answer = asgi.send_message(conv.id, "年假有几天？")
    asgi.feedback(answer.id or "", "down", "想要更多细节")
    md = asgi.export_conversation(conv.id)
    assert md.startswith("# 年假 \\<b\\>制度\\</b\\>\n")  # a title is text: its HTML is escaped, never rendered
    assert "## Question\n\n年假有几天？" in md and "### Answer · extractive" in md
    assert "[^1]" in md.split("### Answer")[1].split("\n\n")[1]  # the [1] marker became a footnote reference
    assert "[^1]: 年假.md, 年假制度 (hr): “" in md
    assert "👎 — 想要更多细节" in md


def test_export_is_served_as_a_markdown_attachment(raw: httpx.Client, zk: Zhiku) -> None:
    conv = zk.conversations.create("local", "llm", "notes")
    r = raw.get(f"/api/conversations/{conv.id}/export")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    assert r.headers["x-content-type-options"] == "nosniff" and "attachment" in r.headers["content-disposition"]
    assert r.text.startswith("# notes\n")


def test_error_cases(raw: httpx.Client, asgi: ZhikuClient) -> None:
    missing = "0" * 32
    for method, path in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/export"), ("POST", "/messages")]:
        body = {"content": "hi"} if method == "POST" else {"title": "x"} if method == "PATCH" else None
        assert_error(raw.request(method, f"/api/conversations/{missing}{path}", json=body), 404, "not_found")
    assert_error(raw.get("/api/conversations/not-an-id"), 422, "validation_error")
    assert_error(raw.post("/api/conversations", json={"mode": "telepathy"}), 422, "validation_error")
    conv = asgi.create_conversation("kb", kbs=["nowhere"])
    error = assert_error(raw.post(f"/api/conversations/{conv.id}/messages", json={"content": "hi"}), 404)
    assert "nowhere" in error["message"]
    error = assert_error(raw.post(f"/api/conversations/{conv.id}/messages", json={"content": "hi", "mode": "search"}),
                         400, "invalid_input")
    assert error["message"].startswith("search mode is not configured")
    assert_error(raw.post(f"/api/conversations/{conv.id}/messages", json={"content": ""}), 422)
    assert asgi.get_conversation(conv.id).messages == []  # refused questions are not stored
    assert_error(raw.post(f"/api/messages/{missing}/feedback", json={"rating": "meh"}), 422, "validation_error")


def test_conversations_belong_to_their_owner(zk: Zhiku) -> None:
    alice = zk.conversations.create("alice", "llm", "mine")
    message = zk.conversations.add_message("alice", alice.id, "assistant", "hello", mode="llm")
    assert zk.conversations.list("bob") == []
    for call in (lambda: zk.conversations.get("bob", alice.id),
                 lambda: zk.conversations.update("bob", alice.id, title="x"),
                 lambda: zk.conversations.delete("bob", alice.id),
                 lambda: zk.conversations.add_message("bob", alice.id, "user", "hi"),
                 lambda: zk.conversations.set_feedback("bob", message.id or "", "up")):
        with pytest.raises(NotFound):
            call()
    assert zk.conversations.get("alice", alice.id).title == "mine"


def test_generated_answers_streamed_and_stored_with_history(model_client: ZhikuClient,
                                                            chat_server: ChatServer) -> None:
    _kb(model_client)
    conv = model_client.create_conversation("kb", kbs=["hr"], settings={"temperature": 0.7})
    events = list(model_client.send_message_stream(conv.id, "年假有几天？"))
    assert [e.type for e in events][0] == "start" and [e.type for e in events][-2:] == ["citations", "done"]
    assert events[0].info["model"] == "test" and events[0].info["conversation_id"] == conv.id
    text = "".join(e.text for e in events if e.type == "delta")
    done = events[-1].message
    assert done is not None and done.id and done.content == text.strip() == "年假是十五天 [1]。"
    assert done.model == "test" and done.mode == "kb" and done.usage and done.usage["completion_tokens"] > 0
    assert [c.file for c in events[-2].citations] == [c.file for c in done.citations] == ["年假.md"]
    assert chat_server.requests[-1]["temperature"] == 0.7

    model_client.send_message(conv.id, "可以分次休吗？", temperature=0.1)
    sent = chat_server.requests[-1]
    assert sent["temperature"] == 0.1
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert sent["messages"][1]["content"] == "年假有几天？" and sent["messages"][2]["content"] == done.content
    stored = model_client.get_conversation(conv.id).messages or []
    assert [m.id for m in stored][1] == done.id and len(stored) == 4


def test_unreachable_model_is_a_readable_503_and_stored(home: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with model_app(home, url, connect_timeout_s=2.0) as app:
        transport = SyncASGITransport(create_app(app))
        with ZhikuClient("http://zhiku.test", transport=transport) as c:
            conv = c.create_conversation("llm")
            with pytest.raises(Unavailable) as caught:
                c.send_message(conv.id, "hello?")
            assert caught.value.status_code == 503 and "test" in caught.value.message  # type: ignore[attr-defined]
            with pytest.raises(Unavailable):
                list(c.send_message_stream(conv.id, "still there?"))
            messages = c.get_conversation(conv.id).messages or []
        transport.close()
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    failed = messages[1]
    assert failed.status == "error" and failed.error == caught.value.message and failed.content == ""
    assert failed.meta["error_type"] == "model_unreachable" and failed.model == "test"


def test_failure_after_the_stream_started_is_an_error_event(model_client: ZhikuClient) -> None:
    conv = model_client.create_conversation("llm", model="stalls")
    events = list(model_client.send_message_stream(conv.id, "tell me a story"))
    kinds = [e.type for e in events]
    assert kinds[0] == "start" and kinds[-3:] == ["citations", "error", "done"] and "delta" in kinds
    assert events[-2].error is not None and events[-2].error["type"] == "model_timeout"
    done = events[-1].message
    assert done is not None and done.status == "error" and done.content  # the part before the silence is kept
    assert model_client.get_conversation(conv.id).messages[-1].status == "error"  # type: ignore[index]


def test_disconnect_stops_the_model_and_stores_the_partial_answer(model_zk: Zhiku, chat_server: ChatServer) -> None:
    server = LiveServer(model_zk)
    try:
        with ZhikuClient(server.url) as c:
            conv = c.create_conversation("llm", model="slow")
            events = c.send_message_stream(conv.id, "count forever")
            seen = ""
            for ev in events:
                seen += ev.text
                if seen.count("more") >= 3:
                    break
            assert upstream_connections(chat_server.port) == 1
            events.close()  # type: ignore[attr-defined]  # the client goes away mid-answer
            wait_until(lambda: upstream_connections(chat_server.port) == 0, "the upstream request to close")
            messages = wait_until(lambda: len(c.get_conversation(conv.id).messages or []) == 2
                                  and c.get_conversation(conv.id).messages, "the partial answer to be stored")
    finally:
        server.stop()
    stopped = messages[1]
    assert stopped.status == "stopped" and stopped.error is None and stopped.content.startswith(seen.strip())
    assert len(chat_server.requests) == 1


def test_a_client_that_gives_up_on_a_json_answer_stops_it_too(model_zk: Zhiku, chat_server: ChatServer) -> None:
    server = LiveServer(model_zk)
    try:
        with ZhikuClient(server.url) as c:
            conv = c.create_conversation("llm", model="slow")
        with httpx.Client(base_url=server.url, timeout=httpx.Timeout(5.0, read=1.0)) as impatient:
            with pytest.raises(httpx.ReadTimeout):
                impatient.post(f"/api/conversations/{conv.id}/messages", json={"content": "count forever"})
        wait_until(lambda: upstream_connections(chat_server.port) == 0, "the upstream request to close")
        with ZhikuClient(server.url) as c:
            messages = wait_until(lambda: (c.get_conversation(conv.id).messages or [None])[1:],
                                  "the partial answer to be stored")
    finally:
        server.stop()
    assert messages[0].status == "stopped" and "more" in messages[0].content


def test_uploads_go_on_while_an_answer_streams(model_zk: Zhiku) -> None:
    server = LiveServer(model_zk)
    try:
        with ZhikuClient(server.url) as chat, ZhikuClient(server.url) as files:
            files.create_kb("hr")
            conv = chat.create_conversation("llm", model="slow")
            events = chat.send_message_stream(conv.id, "keep talking")
            assert next(events).type == "start"
            done: list[str] = []

            def upload() -> None:
                job = files.upload("hr", [("年假.md", ZH.encode()), ("refunds.md", EN.encode())])
                done.append(files.wait_for_job(job.id, timeout=60).status)

            uploader = threading.Thread(target=upload)
            uploader.start()
            while uploader.is_alive():
                assert next(events).type == "delta"  # the answer keeps coming while the files are read
            uploader.join()
            events.close()  # type: ignore[attr-defined]
            assert done == ["done"]
            conv = files.create_conversation("kb", kbs="hr")
            assert "十五天" in files.send_message(conv.id, "年假有几天？").content
    finally:
        server.stop()


@pytest.mark.anyio
async def test_async_client(aclient: AsyncZhikuClient, zk: Zhiku) -> None:
    async with aclient:
        await aclient.create_kb("hr")
        job = await aclient.upload("hr", [("年假.md", ZH.encode())])
        await aclient.wait_for_job(job.id, timeout=60)
        conv = await aclient.create_conversation("kb", kbs=["hr"])
        kinds = [ev.type async for ev in aclient.send_message_stream(conv.id, "年假有几天？")]
        assert kinds[0] == "start" and kinds[-1] == "done"
        answer = await aclient.send_message(conv.id, "年假可以分次休吗？")
        await aclient.feedback(answer.id or "", "up", "clear")
        assert "年假可以分次休吗？" in await aclient.export_conversation(conv.id)
        assert [c.id for c in await aclient.list_conversations()] == [conv.id]
        await aclient.delete_conversation(conv.id)
        assert await aclient.list_conversations() == []
