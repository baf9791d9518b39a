"""Stateless chat in every mode (/api/chat), file chat over uploaded files, and plain chat-model
completions on the OpenAI-compatible /v1 API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.api.conftest import EN, SICK, SyncASGITransport, assert_error
from tests.api.test_conversations import _kb, model_app
from zhiku import Zhiku
from zhiku.api import create_app
from zhiku.client import ZhikuClient
from zhiku.errors import InvalidInput, NotFound, Unavailable
from zhiku.testing.llm_servers import ChatServer

NOTES = b"# Travel policy\n\nTrain tickets above 500 yuan need the approval of a department head.\n"


@pytest.fixture
def echo_server() -> Iterator[ChatServer]:
    """Replies with how many messages it was sent and the last one."""
    def reply(body: dict) -> str:
        return f"{len(body['messages'])} messages; last: {body['messages'][-1]['content']}"

    with ChatServer(reply=reply, models=("ok",)) as server:
        yield server


@pytest.fixture
def llm(home: Path, echo_server: ChatServer) -> Iterator[tuple[ZhikuClient, httpx.Client, ChatServer]]:
    app = model_app(home, echo_server.base_url)
    transport = SyncASGITransport(create_app(app))
    with ZhikuClient("http://zhiku.test", transport=transport) as c, \
            httpx.Client(base_url="http://zhiku.test", transport=transport) as raw:
        yield c, raw, echo_server
    transport.close()
    app.close()


def test_kb_chat_extractive_one_or_several_kbs(asgi: ZhikuClient) -> None:
    _kb(asgi, "hr")
    asgi.create_kb("sick")
    job = asgi.upload("sick", [("病假.md", SICK.encode())])
    asgi.wait_for_job(job.id, timeout=60)
    answer = asgi.chat("kb", "年假有几天？", kbs=["hr", "sick"])
    assert answer.id is None and answer.conversation_id is None and answer.role == "assistant"
    assert "十五天" in answer.content and answer.citations[0].file == "年假.md" and answer.model == "extractive"
    answer = asgi.chat("kb", "病假工资怎么发？", kbs=["hr", "sick"])
    assert {c.kb for c in answer.citations} == {"sick"}
    events = list(asgi.chat_stream("kb", [{"role": "user", "content": "年假有几天？"}], kbs="hr"))
    assert [e.type for e in events][0] == "start" and [e.type for e in events][-2:] == ["citations", "done"]
    done = events[-1].message
    assert done is not None and "".join(e.text for e in events if e.type == "delta").strip() == done.content
    assert asgi.list_conversations() == []  # nothing stored


def test_llm_chat_sends_history_and_options(llm: tuple[ZhikuClient, httpx.Client, ChatServer]) -> None:
    c, _, server = llm
    turns = [{"role": "user", "content": "Hi, I am Li."}, {"role": "assistant", "content": "Hello Li."},
             {"role": "user", "content": "What is my name?"}]
    answer = c.chat("llm", turns, temperature=0.9)
    assert answer.content == "4 messages; last: What is my name?" and answer.mode == "llm" and answer.model == "test"
    sent = server.requests[-1]
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert sent["temperature"] == 0.9 and answer.citations == [] and answer.usage
    streamed = list(c.chat_stream("llm", "你好"))
    assert "".join(e.text for e in streamed if e.type == "delta") == "2 messages; last: 你好"


def test_llm_chat_without_a_model_says_so(asgi: ZhikuClient) -> None:
    with pytest.raises(Unavailable, match="no chat model is configured"):
        asgi.chat("llm", "hello")


def test_bad_requests(raw: httpx.Client) -> None:
    def chat(**body: object) -> httpx.Response:
        return raw.post("/api/chat", json={"messages": [{"role": "user", "content": "hi"}], **body})

    assert assert_error(chat(mode="search"), 400, "invalid_input")["message"].startswith("search mode is not configured")
    assert_error(chat(mode="telepathy"), 422, "validation_error")
    assert "knowledge base" in assert_error(chat(mode="kb"), 400, "invalid_input")["message"]
    assert_error(chat(mode="kb", kbs=["nothing"]), 404, "not_found")
    assert "temp_kb" in assert_error(chat(mode="file"), 400, "invalid_input")["message"]
    assert_error(chat(mode="file", temp_kb="0" * 32), 404, "not_found")
    assert_error(raw.post("/api/chat", json={"mode": "llm", "messages": []}), 422, "validation_error")
    assert_error(raw.post("/api/chat", json={"mode": "llm", "messages": [{"role": "assistant", "content": "x"}]}),
                 400, "invalid_input")


def test_file_chat_answers_from_the_uploaded_file(asgi: ZhikuClient, raw: httpx.Client, zk: Zhiku) -> None:
    asgi.create_kb("hr")
    temp = asgi.upload_chat_files([("travel.md", NOTES), ("refunds.md", EN.encode())])
    assert temp.status in ("ingesting", "ready") and [f.name for f in temp.files] == ["travel.md", "refunds.md"]
    ready = asgi.wait_for_chat_files(temp.id, timeout=60)
    assert ready.status == "ready" and {f.outcome for f in ready.files} == {"added"}
    assert ready.expires_at > ready.created_at

    answer = asgi.chat("file", "Which train tickets need approval?", temp_kb=temp.id)
    assert "department head" in answer.content and answer.citations[0].file == "travel.md"
    conv = asgi.create_conversation("file", settings={"temp_kb": temp.id})
    assert "14 days" in asgi.send_message(conv.id, "When are refunds paid?").content

    # hidden: not a knowledge base of the listings, not a /v1 model, not a name users may take
    assert [kb.name for kb in asgi.list_kbs()] == ["hr"]
    assert not [m for m in raw.get("/v1/models").json()["data"] if "_tmp_" in m["id"]]
    with pytest.raises(InvalidInput, match="reserved"):
        asgi.create_kb("_tmp_mine")

    asgi.delete_chat_files(temp.id)
    with pytest.raises(NotFound):
        asgi.get_chat_files(temp.id)
    with pytest.raises(NotFound):
        asgi.chat("file", "Which train tickets need approval?", temp_kb=temp.id)
    assert [kb.name for kb in zk.catalog.list_kbs()] == ["hr"]


def test_file_chat_with_an_unreadable_file(asgi: ZhikuClient) -> None:
    temp = asgi.upload_chat_files([("broken.pdf", b"%PDF-1.7 not really a pdf")])
    failed = asgi.wait_for_chat_files(temp.id, timeout=60)
    assert failed.status == "failed" and failed.error and "broken.pdf" in failed.error
    with pytest.raises(InvalidInput, match="could be read"):
        asgi.chat("file", "anything?", temp_kb=temp.id)


def test_chat_file_upload_limits(raw: httpx.Client, zk: Zhiku) -> None:
    big = b"x" * ((1 << 20) + 1)  # over the 1 MB per-file limit of the test settings
    r = raw.post("/api/chat/files", files=[("files", ("big.txt", big))])
    assert_error(r, 413, "too_large")
    assert [kb.name for kb in zk.catalog.list_kbs()] == []  # nothing half-made
    assert_error(raw.post("/api/chat/files", content=b"nope", headers={"content-type": "text/plain"}), 400)


def test_v1_plain_chat_model(llm: tuple[ZhikuClient, httpx.Client, ChatServer]) -> None:
    _, raw, server = llm
    body = {"model": "test", "temperature": 0.3, "messages": [
        {"role": "system", "content": "Answer like a pirate."}, {"role": "user", "content": "Hi"}]}
    r = raw.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["choices"][0]["message"]["content"] == "2 messages; last: Hi" and reply["citations"] == []
    assert server.requests[-1]["messages"][0] == {"role": "system", "content": "Answer like a pirate."}
    assert server.requests[-1]["temperature"] == 0.3
    with raw.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as s:
        lines = [line[6:] for line in s.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    text = "".join(json.loads(x)["choices"][0]["delta"].get("content") or "" for x in lines[:-1]
                   if json.loads(x)["choices"])
    assert text == "2 messages; last: Hi"



def test_strict_grounding_can_be_chosen_per_answer(llm: tuple[ZhikuClient, httpx.Client, ChatServer]) -> None:
    c, _, server = llm
    _kb(c, "hr")
    off_topic = "What is the boiling point of mercury in kelvin?"
    strict = c.chat("kb", off_topic, kbs="hr", strict=True)
    assert strict.meta["found"] is False and server.requests == []  # no model call for a question the KB lacks
    lenient = c.chat("kb", off_topic, kbs="hr", strict=False)
    assert len(server.requests) == 1 and lenient.meta.get("warning")
    assert lenient.content.startswith(lenient.meta["warning"]) and lenient.model == "test"


def test_search_mode_answers_from_the_web_with_url_citations(home: Path) -> None:
    """Web-search chat through the API, stateless and in a stored conversation, against a local
    engine speaking SearXNG's JSON API and serving the result pages."""
    from tests.websearch.conftest import web_settings
    from zhiku.testing.search_server import SearchServer

    with SearchServer() as server, Zhiku(web_settings(home, server)) as app:
        transport = SyncASGITransport(create_app(app))
        with ZhikuClient("http://zhiku.test", transport=transport) as c:
            answer = c.chat("search", "When is Longjing tea harvested?")
            assert "early spring" in answer.content
            assert f"{server.base}/pages/tea" in [x.url for x in answer.citations]
            conv = c.create_conversation("search")
            events = list(c.send_message_stream(conv.id, "When is Longjing tea harvested?"))
            done = [e for e in events if e.type == "done"][0].message
            assert done.mode == "search" and "early spring" in done.content
            stored = c.get_conversation(conv.id).messages
            assert stored[-1].citations[0].url.startswith(server.base)
        transport.close()


def test_a_chat_answer_searches_the_way_it_is_asked(asgi: ZhikuClient) -> None:
    """``retrieval`` picks the search (hybrid, dense, lexical) for one answer, in stateless chat and
    in a conversation's message, as the CLI's --mode does locally and with --server."""
    _kb(asgi, "hr")
    best = {}
    for mode in ("lexical", "dense", "hybrid"):  # the same answer /api/ask gives with that search
        chat, ask = asgi.chat("kb", "年假有几天？", kbs=["hr"], retrieval=mode), asgi.ask(["hr"], "年假有几天？", mode=mode)
        assert (chat.content, chat.meta["best_score"]) == (ask.answer, ask.best_score), mode
        best[mode] = ask.best_score
    assert best["lexical"] != best["dense"]  # the searches differ, so the checks above can tell them apart
    conv = asgi.create_conversation("kb", kbs=["hr"], settings={"retrieval": "lexical"})
    assert asgi.send_message(conv.id, "年假有几天？", retrieval="dense").meta["best_score"] == best["dense"]
    assert asgi.send_message(conv.id, "年假有几天？").meta["best_score"] == best["lexical"]  # the conversation's
    with pytest.raises(InvalidInput):
        asgi.chat("kb", "年假有几天？", kbs=["hr"], retrieval="fuzzy")
