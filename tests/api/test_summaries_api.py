"""Summaries over HTTP: zhiku's routes through the typed client, Chatchat's kb_summary_api routes
as its web UI calls routes it has no ApiRequest method for (raw HTTP with its request bodies: the
vendored ApiRequest and SDK have none for these), and KB-level questions through /api/chat."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.api.conftest import SyncASGITransport, assert_error
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.client import ZhikuClient
from zhiku.errors import NotFound

TEA = " ".join(f"The tea harvest in Hangzhou depends on the spring weather of year {y}." for y in range(2001, 2010))
LEAVE = "年假制度规定入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。年假未休完可以顺延到下一年。"
REFUNDS = "Refunds are paid within 14 days. Refunds go to the original card. Tea is not refunded once opened."


@pytest.fixture
def served(home: Path) -> Iterator[tuple[ZhikuClient, httpx.Client]]:
    app = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"},
                                                    "llm": {"default": None, "detect_local": False}}, environ={}))
    transport = SyncASGITransport(create_app(app))
    with ZhikuClient("http://zhiku.test", transport=transport) as c, \
            httpx.Client(base_url="http://zhiku.test", transport=transport) as raw:
        c.create_kb("hr", description="Policies of the company")
        job = c.upload("hr", [("wiki/tea.md", TEA.encode()), ("年假.md", LEAVE.encode()),
                              ("money/refunds.md", REFUNDS.encode())])
        assert c.wait_for_job(job.id, timeout=60).status == "done"
        yield c, raw
    transport.close()
    app.close()


def test_summary_routes_through_the_client(served: tuple[ZhikuClient, httpx.Client]) -> None:
    c, raw = served
    assert c.list_summaries("hr") == []  # none made yet: listing makes none
    s = c.summary("hr", "wiki/tea.md")  # a name with a folder
    assert [x.file for x in c.list_summaries("hr")] == ["wiki/tea.md"] and not c.list_summaries("hr")[0].stale
    assert s.kind == "extractive" and s.model is None and "extractive" in s.label and "tea harvest" in s.text
    fid = s.file_id or ""
    assert c.summary("hr", fid).text == s.text  # by id
    again = c.make_summary("hr", "wiki/tea.md", extractive=True)
    assert again.created_at > s.created_at and again.text == s.text
    kb = c.summary("hr")
    assert kb.files == 3 and kb.file is None and kb.text.startswith("Policies of the company")
    assert c.make_summary("hr", files=True).created_at > kb.created_at
    with pytest.raises(NotFound):
        c.summary("hr", "wiki/none.md")
    assert_error(raw.get("/api/kbs/nothing/summary"), 404)
    assert_error(raw.post("/api/kbs/hr/summary", json={"model": "no-such-model"}), 404)
    assert_error(raw.post("/api/kbs/hr/summary", json={"extractive": True, "typo": 1}), 422)


def test_kb_questions_are_answered_from_the_catalog(served: tuple[ZhikuClient, httpx.Client]) -> None:
    c, _ = served
    answer = c.chat("kb", "How many files mention tea?", kbs=["hr"])
    assert "2 of the 3 files" in answer.content
    assert sorted(x.file for x in answer.citations) == ["money/refunds.md", "wiki/tea.md"]
    assert all("tea" in x.text.lower() for x in answer.citations)  # cited by the passage holding the term
    answer = c.chat("kb", "有多少文件提到年假？", kbs=["hr"])
    assert "有 1 个提到“年假”" in answer.content and [x.file for x in answer.citations] == ["年假.md"]
    answer = c.chat("kb", "这个知识库里有什么？", kbs=["hr"])
    assert "3 个文件" in answer.content and "extractive" in answer.content
    assert {x.file for x in answer.citations} == {"wiki/tea.md", "年假.md", "money/refunds.md"}
    answer = c.chat("kb", "Which files are about refunds?", kbs=["hr"])
    assert [x.file for x in answer.citations] == ["money/refunds.md"]
    ordinary = c.chat("kb", "How many days of annual leave?", kbs=["hr"])
    assert "catalog" not in ordinary.content  # an ordinary question still searches the passages


def _events(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.text
    return [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]


def test_chatchat_kb_summary_api(served: tuple[ZhikuClient, httpx.Client]) -> None:
    c, raw = served
    base = "/knowledge_base/kb_summary_api"
    one = _events(raw.post(f"{base}/summary_file_to_vector_store", json={
        "knowledge_base_name": "hr", "file_name": "wiki/tea.md", "allow_empty_kb": True, "vs_type": "faiss",
        "embed_model": "bge-large-zh-v1.5", "file_description": "", "model_name": "qwen", "temperature": 0.01,
        "max_tokens": 1000}))
    assert len(one) == 1 and one[0]["code"] == 200 and one[0]["doc"] == "wiki/tea.md"
    assert one[0]["msg"].startswith("wiki/tea.md 总结完成") and "extractive" in one[0]["msg"]
    missing = _events(raw.post(f"{base}/summary_file_to_vector_store",
                               json={"knowledge_base_name": "hr", "file_name": "none.md"}))
    assert missing[0]["code"] == 500 and "总结文件‘none.md’时出错" in missing[0]["msg"]
    lines = _events(raw.post(f"{base}/recreate_summary_vector_store", json={"knowledge_base_name": "hr"}))
    assert [(x["code"], x["finished"], x["total"]) for x in lines] == [(200, 1, 3), (200, 2, 3), (200, 3, 3)]
    assert {x["doc"] for x in lines} == {"wiki/tea.md", "年假.md", "money/refunds.md"}
    unknown = _events(raw.post(f"{base}/recreate_summary_vector_store", json={"knowledge_base_name": "无此库"}))
    assert unknown == [{"code": 404, "msg": "未找到知识库 ‘无此库’"}]
    docs = raw.post("/knowledge_base/search_docs", json={"knowledge_base_name": "hr", "query": "tea harvest"}).json()
    ids = [d["id"] for d in docs]
    r = raw.post(f"{base}/summary_doc_ids_to_vector_store", json={"knowledge_base_name": "hr", "doc_ids": ids})
    body = r.json()
    assert r.status_code == 200 and body["code"] == 200 and body["msg"].startswith("总结完成")
    (doc,) = body["data"]["summarize"]
    assert doc["page_content"] and doc["metadata"]["doc_ids"] == ",".join(ids) and doc["type"] == "Document"


@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")
def test_chatchat_summary_routes_through_its_api_request(zk: Zhiku) -> None:
    """The vendored web UI client's own ``post`` and stream reader (it has no method for these
    routes; the SDK's are commented out), against a real uvicorn, as for recreate_vector_store."""
    from tests.api.chatchat_clients import api_request
    from tests.api.conftest import LiveServer

    server = LiveServer(zk)
    try:
        api = api_request(server.url)
        assert api.create_knowledge_base("摘要库", vector_store_type="faiss")["code"] == 200
        up = api.post("/knowledge_base/upload_docs", data={"knowledge_base_name": "摘要库", "override": "true"},
                      files=[("files", ("wiki/tea.md", TEA.encode())), ("files", ("年假.md", LEAVE.encode()))])
        assert up.json()["code"] == 200 and up.json()["data"]["failed_files"] == {}, up.text
        data = {"knowledge_base_name": "摘要库", "allow_empty_kb": True, "vs_type": "faiss",
                "embed_model": "bge-large-zh-v1.5", "file_description": "", "model_name": None,
                "temperature": 0.01, "max_tokens": None}
        lines = list(api._httpx_stream2generator(api.post("/knowledge_base/kb_summary_api/recreate_summary_vector_store",
                                                          json=data, stream=True, timeout=None), as_json=True))
        assert [(x["code"], x["finished"], x["total"]) for x in lines] == [(200, 1, 2), (200, 2, 2)]
        one = list(api._httpx_stream2generator(api.post(
            "/knowledge_base/kb_summary_api/summary_file_to_vector_store",
            json={**data, "file_name": "wiki/tea.md"}, stream=True, timeout=None), as_json=True))
        assert one[0]["code"] == 200 and one[0]["doc"] == "wiki/tea.md" and "tea harvest" in one[0]["summary"]
        assert zk.summaries.file("摘要库", "wiki/tea.md").text == one[0]["summary"]  # stored, served by zhiku too
    finally:
        server.stop()


@pytest.mark.anyio
async def test_async_client_summaries(zk: Zhiku) -> None:
    from zhiku.client import AsyncZhikuClient

    async with AsyncZhikuClient("http://zhiku.test", transport=httpx.ASGITransport(app=create_app(zk))) as c:
        await c.create_kb("kb")
        job = await c.upload("kb", [("notes/tea.md", TEA.encode())])
        assert (await c.wait_for_job(job.id, timeout=60)).status == "done"
        s = await c.summary("kb", "notes/tea.md")
        assert s.kind == "extractive" and "tea harvest" in s.text
        assert (await c.make_summary("kb")).files == 1
