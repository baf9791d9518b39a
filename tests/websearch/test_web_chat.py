"""Web-search chat end to end: local engine + pages, extractive answerer and an
OpenAI-compatible stand-in model; what the answer says when nothing could be used."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.websearch.conftest import web_settings
from zhiku import Zhiku
from zhiku.chat.evidence import QueryVectors
from zhiku.errors import Unavailable
from zhiku.schema import Answer, AnswerEvent, AnswerRequest, Delta, Final, Notice
from zhiku.testing.llm_servers import ChatServer
from zhiku.testing.search_server import SearchServer


def ask(question: str) -> AnswerRequest:
    return AnswerRequest(mode="search", question=question)


def texts(events: list[AnswerEvent]) -> list[str]:
    """What a text stream shows of the events: the notices and the answer's pieces."""
    return [e.shown for e in events if isinstance(e, (Delta, Notice))]


def test_extractive_answer_cites_the_page_it_read(web_app: Zhiku, server: SearchServer) -> None:
    answer = web_app.answer(ask("When is Longjing tea harvested?"))
    assert answer.web is not None and answer.found and answer.mode == "extractive"
    assert answer.answer.startswith("From the web search results:")
    assert "The tea is harvested in early spring." in answer.answer and answer.answer.endswith("[1]")
    first = answer.citations[0]
    assert first.n == 1 and first.url == f"{server.base}/pages/tea" and first.file == "Longjing tea - Tea Encyclopedia"
    assert first.kb == "web" and 0 < first.score <= 1
    assert [r.url for r in answer.web.results] == [f"{server.base}/pages/{p}" for p in ("volcano", "tea", "tea-zh")]
    assert answer.web.unread == {} and answer.web.notice is None
    zh = web_app.answer(ask("龙井茶产于哪里？"))
    assert zh.answer.startswith("根据网页搜索结果：") and "杭州市西湖" in zh.answer
    assert zh.citations[0].url == f"{server.base}/pages/tea-zh"


def test_page_furniture_is_not_a_source(web_app: Zhiku) -> None:
    question = "Longjing tea shop opening hours tracking script"
    vectors = QueryVectors(question, web_app.retriever.query_vector)
    evidence, _ = web_app.answers.web_chat.evidence(question, "en", vectors)
    texts = " ".join(p.text for p in evidence.passages)
    assert "tracking script" not in texts and "opening hours" not in texts and "Green teas | Black teas" not in texts
    assert evidence.fetched and len(evidence.fetched) == 3


def test_model_answer_gets_numbered_pages_and_cites_urls(home: Path, server: SearchServer) -> None:
    with ChatServer(reply="Longjing is picked in early spring [1], before Qingming [1][9].") as chat:
        llm = {"default": "test", "models": {"test": {"base_url": f"http://127.0.0.1:{chat.port}/v1", "model": "ok"}}}
        with Zhiku(web_settings(home, server, llm=llm)) as app:
            items = list(app.answer_stream(ask("When is Longjing tea harvested?")))
    assert isinstance(items[-1], Final) and not any(isinstance(e, Final) for e in items[:-1])
    final = items[-1].answer
    assert final.web is not None
    expected = "Longjing is picked in early spring [1], before Qingming [1]."
    assert "".join(texts(items)).strip() == final.answer == expected
    assert final.mode == "llm" and final.model == "test" and final.found
    assert [(c.n, c.url) for c in final.citations] == [(1, f"{server.base}/pages/tea")]
    prompt = chat.requests[-1]["messages"]
    assert "web search results" in prompt[0]["content"]
    user = prompt[-1]["content"]
    assert f"[1] Longjing tea - Tea Encyclopedia ({server.base}/pages/tea)" in user
    assert "harvested in early spring" in user and "When is Longjing tea harvested?" in user
    assert "tracking script" not in user


def test_nothing_found_is_said_plainly(home: Path) -> None:
    with SearchServer(results=[]) as server, Zhiku(web_settings(home, server)) as app:
        answer = app.answer(ask("When is Longjing tea harvested?"))
    assert not answer.found and answer.answer == "The web search found nothing for this question."
    assert answer.citations == [] and answer.web is not None and answer.web.results == []


def test_refused_pages_fall_back_to_snippets_and_say_so(home: Path, server: SearchServer) -> None:
    with Zhiku(web_settings(home, server, allow_networks=[])) as app:  # the pages are on 127.0.0.1: refused
        items = list(app.answer_stream(ask("When is Longjing tea harvested?")))
    assert isinstance(items[-1], Final) and items[-1].answer.web is not None
    final, web = items[-1].answer, items[-1].answer.web
    assert texts(items)[0].startswith("⚠ None of the 3 result pages could be read")
    assert web.notice is not None and "127.0.0.1 is a loopback address" in web.notice
    assert set(web.unread) == {f"{server.base}/pages/{p}" for p in ("volcano", "tea", "tea-zh")}
    assert final.answer.startswith(web.notice) and "pan-roasted green tea from Hangzhou. [1]" in final.answer
    assert final.citations[0].url == f"{server.base}/pages/tea" and final.citations[0].meta["from_snippet"]
    assert not any(r["path"].startswith("/pages/") for r in server.requests)  # nothing was fetched


def test_no_page_and_no_snippet(home: Path) -> None:
    items = [{"title": "Tea", "url": "{base}/status/500"}, {"title": "Tea 2", "url": "{base}/binary"}]
    with SearchServer(results=items) as server, Zhiku(web_settings(home, server)) as app:
        answer = app.answer(ask("When is Longjing tea harvested?"))
    assert not answer.found and answer.answer.startswith("The web search found 2 results, but none of their pages")
    assert "HTTP 500" in answer.answer and "application/octet-stream" in answer.answer


def test_unrelated_results_answer_no_without_calling_the_model(home: Path) -> None:
    items = [{"title": "Volcanoes", "url": "{base}/pages/volcano", "content": "A volcano is a rupture."}]
    with ChatServer() as chat, SearchServer(results=items) as server:
        llm = {"default": "test", "models": {"test": {"base_url": f"http://127.0.0.1:{chat.port}/v1", "model": "ok"}}}
        with Zhiku(web_settings(home, server, llm=llm)) as app:
            answer = app.answer(ask("When is Longjing tea harvested?"))
    assert not answer.found and answer.answer == "The web search results do not seem to answer this question."
    assert chat.requests == []


def test_slow_and_huge_pages_do_not_hold_the_answer(home: Path) -> None:
    items = [{"title": "Slow", "url": "{base}/stall", "content": "slow"},
             {"title": "Huge", "url": "{base}/huge", "content": "huge"},
             {"title": "Longjing tea", "url": "{base}/pages/tea", "content": "Longjing tea."}]
    with SearchServer(results=items) as server:
        with Zhiku(web_settings(home, server, fetch_timeout_s=1.0, max_page_kb=32)) as app:
            answer = app.answer(ask("When is Longjing tea harvested?"))
    assert answer.found and "early spring" in answer.answer and answer.web is not None
    assert "took longer than 1 s" in answer.web.unread[f"{server.base}/stall"]
    assert f"{server.base}/huge" not in answer.web.unread  # read, cut at 32 KB


def test_web_search_off_and_empty_question(web_app: Zhiku, home: Path) -> None:
    from zhiku import load_settings
    from zhiku.errors import InvalidInput

    with pytest.raises(InvalidInput, match="empty"):
        web_app.answer(ask("   "))
    with Zhiku(load_settings(home=home / "off", overrides={"embedding": {"default": "static"}})) as off:
        with pytest.raises(InvalidInput, match="search mode is not configured"):
            off.answer(ask("anything"))
        with pytest.raises(Unavailable, match="web search is off"):
            off.answers.web_chat.engine_or_off()
        with pytest.raises(Unavailable, match="web search is off"):
            off.web_search("anything")


def test_web_search_lists_results(web_app: Zhiku, server: SearchServer) -> None:
    results = web_app.web_search("Longjing tea", limit=2)
    assert [r.url for r in results] == [f"{server.base}/pages/volcano", f"{server.base}/pages/tea"]
    assert all(isinstance(a, Answer) is False for a in results)


def test_web_prompts_exist_in_both_languages() -> None:
    from zhiku.chat.prompts import render

    fields = {"web_source": {"n": 1, "title": "T", "url": "https://x.example/", "text": ""},
              "web_user": {"sources": "s {x}", "question": "q"},
              "web_pages_failed": {"n": 2, "reasons": "r"}, "web_all_failed": {"n": 2, "reasons": "r"}}
    for name in ("web_system", "web_user", "web_source", "web_no_results", "web_no_answer", "web_lead",
                 "web_pages_failed", "web_all_failed", "web_weak_warning"):
        for lang in ("zh", "en"):
            assert render(lang, name, **fields.get(name, {}))
    assert "https://x.example/" in render("zh", "web_source", **fields["web_source"])
