"""The answer pipeline in every mode, with the real static embedder, a real OpenAI-compatible
stand-in model server and a local search engine: the events come in order, ``Final`` last and
once, the request is checked before any event, and closing the iterator stops the model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.api.test_conversations import upstream_connections, wait_until
from tests.chat.test_temp_kb import upload
from zhiku import Zhiku, load_settings
from zhiku.errors import InvalidInput, NotFound, Unavailable
from zhiku.schema import AnswerEvent, AnswerRequest, Delta, Final, Notice, Retrieved
from zhiku.testing.llm_servers import BEHAVIOURS, ChatServer
from zhiku.testing.search_server import SearchServer

LEAVE = "# 年假制度\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。\n"
REFUNDS = "# Refunds\n\nRefunds are paid within 14 days of receiving the returned item.\n"


@pytest.fixture
def servers() -> Iterator[tuple[ChatServer, SearchServer]]:
    with ChatServer(reply="年假是十五天 [1][7]。", models=BEHAVIOURS) as chat, SearchServer() as search:
        yield chat, search


def _app(home: Path, chat: ChatServer, search: SearchServer, default: str | None = "test") -> Zhiku:
    models = {"test": {"base_url": chat.base_url, "model": "ok"},
              "slow": {"base_url": chat.base_url, "model": "endless"}}
    overrides: dict[str, Any] = {
        "embedding": {"default": "static"},
        "llm": {"default": default, "detect_local": False, "models": models},
        "websearch": {"engine": "searxng", "base_url": search.base, "allow_networks": ["127.0.0.1/32"]}}
    return Zhiku(load_settings(home=home, overrides=overrides, environ={}))


@pytest.fixture
def app(home: Path, tmp_path: Path, servers: tuple[ChatServer, SearchServer]) -> Iterator[Zhiku]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "年假.md").write_text(LEAVE, encoding="utf-8")
    (docs / "refunds.md").write_text(REFUNDS, encoding="utf-8")
    with _app(home, *servers) as a:
        a.create_kb("hr")
        assert a.add_files("hr", [docs]).ok
        yield a


def _kinds(events: list[AnswerEvent]) -> list[str]:
    return [e.type for e in events]


def _text(events: list[AnswerEvent]) -> str:
    return "".join(e.shown for e in events if isinstance(e, (Delta, Notice)))


def _final(events: list[AnswerEvent]) -> Any:
    assert isinstance(events[-1], Final) and _kinds(events).count("final") == 1, _kinds(events)
    return events[-1].answer


def test_kb_mode_with_a_model(app: Zhiku, servers: tuple[ChatServer, SearchServer]) -> None:
    events = list(app.answer_stream(AnswerRequest(mode="kb", kbs=["hr"], question="年假有几天？")))
    kinds = _kinds(events)
    assert kinds[0] == "retrieved" and set(kinds[1:-1]) == {"delta"} and kinds[-1] == "final"
    retrieved, answer = events[0], _final(events)
    assert isinstance(retrieved, Retrieved) and retrieved.found and retrieved.hits[0].file == "docs/年假.md"
    assert answer.mode == "llm" and answer.model == "test" and answer.usage and answer.finish_reason == "stop"
    assert _text(events) == answer.answer == "年假是十五天 [1]。"  # [7] names no source it was given
    assert [c.n for c in answer.citations] == [1] and answer.citations[0].file == "docs/年假.md"
    assert "十五天带薪年假" in servers[0].requests[-1]["messages"][-1]["content"]


def test_kb_mode_extractive(app: Zhiku, servers: tuple[ChatServer, SearchServer]) -> None:
    events = list(app.answer_stream(AnswerRequest(mode="kb", kbs=["hr"], question="年假有几天？", extractive=True)))
    assert _kinds(events) == ["retrieved", "delta", "final"]
    answer = _final(events)
    assert answer.mode == "extractive" and answer.model is None and "十五天" in answer.answer
    assert _text(events) == answer.answer and servers[0].requests == []


def test_weak_evidence_is_a_notice_ahead_of_the_answer(app: Zhiku) -> None:
    off_topic = AnswerRequest(mode="kb", kbs=["hr"], question="What is the boiling point of mercury?", strict=False)
    events = list(app.answer_stream(off_topic))
    assert _kinds(events)[:2] == ["retrieved", "notice"] and not events[0].found  # type: ignore[union-attr]
    answer = _final(events)
    assert answer.warning and answer.answer.startswith(answer.warning) and _text(events) == answer.answer
    strict = list(app.answer_stream(off_topic.model_copy(update={"strict": True})))
    assert _kinds(strict) == ["retrieved", "delta", "final"] and not _final(strict).found


def test_llm_mode(app: Zhiku, servers: tuple[ChatServer, SearchServer]) -> None:
    history = [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}]
    events = list(app.answer_stream(AnswerRequest(mode="llm", question="年假有几天？", history=history,
                                                  temperature=0.2, system="像海盗一样回答。")))
    assert "retrieved" not in _kinds(events)
    answer = _final(events)
    assert answer.model == "test" and answer.citations == [] and _text(events) == answer.answer
    sent = servers[0].requests[-1]
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
    assert sent["messages"][0]["content"] == "像海盗一样回答。" and sent["temperature"] == 0.2


def test_search_mode(app: Zhiku, servers: tuple[ChatServer, SearchServer]) -> None:
    base = servers[1].base
    events = list(app.answer_stream(AnswerRequest(mode="search", question="When is Longjing tea harvested?",
                                                  extractive=True)))
    assert _kinds(events)[0] == "retrieved" and _kinds(events)[-1] == "final"
    hits = events[0].hits  # type: ignore[union-attr]
    assert hits and all(h.kb == "web" and h.url for h in hits)
    answer = _final(events)
    assert answer.found and answer.web is not None and f"{base}/pages/tea" in [r.url for r in answer.web.results]
    assert answer.citations[0].url == f"{base}/pages/tea" and _text(events) == answer.answer


def test_file_mode_waits_for_the_uploaded_files(app: Zhiku) -> None:
    app.start_jobs()
    tid = upload(app)  # asked at once: the answer waits for the file to be read
    events = list(app.answer_stream(AnswerRequest(mode="file", temp_kb=tid, question="Which train tickets need "
                                                  "approval?", extractive=True)))
    assert _kinds(events) == ["retrieved", "delta", "final"]
    assert "department head" in _final(events).answer and events[0].hits[0].file == "notes.md"  # type: ignore


def test_the_request_is_checked_before_any_event(app: Zhiku) -> None:
    def refused(**fields: Any) -> Any:
        return app.answer_stream(AnswerRequest(**{"question": "年假有几天？", **fields}))

    with pytest.raises(InvalidInput, match="at least one knowledge base"):
        refused(mode="kb")
    with pytest.raises(NotFound):
        refused(mode="kb", kbs=["nope"])
    with pytest.raises(NotFound, match="unknown chat model"):
        refused(mode="kb", kbs=["hr"], model="nope")
    with pytest.raises(InvalidInput, match="empty"):
        refused(mode="llm", question="  ")
    with pytest.raises(InvalidInput, match="temp_kb"):
        refused(mode="file")
    with pytest.raises(InvalidInput, match="agentic retrieval is for kb and agent modes"):
        refused(mode="llm", agentic=True)
    with pytest.raises(InvalidInput, match="extractive"):
        refused(mode="agent", extractive=True)
    with pytest.raises(InvalidInput, match="unknown search mode"):
        refused(mode="kb", kbs=["hr"], retrieval="fuzzy")


def test_llm_mode_without_a_model(home: Path, servers: tuple[ChatServer, SearchServer]) -> None:
    with _app(home, *servers, default=None) as app:
        with pytest.raises(Unavailable, match="no chat model is configured"):
            app.answer_stream(AnswerRequest(mode="llm", question="hello"))


def test_closing_the_iterator_stops_the_model(app: Zhiku, servers: tuple[ChatServer, SearchServer]) -> None:
    chat = servers[0]
    events = app.answer_stream(AnswerRequest(mode="kb", kbs=["hr"], question="年假有几天？", model="slow"))
    seen = ""
    for event in events:
        seen += event.text if isinstance(event, Delta) else ""
        if seen.count("more") >= 3:
            break
    assert upstream_connections(chat.port) == 1
    events.close()  # type: ignore[attr-defined]
    wait_until(lambda: upstream_connections(chat.port) == 0, "the upstream request to close")
    time.sleep(0.2)
    assert len(chat.requests) == 1
