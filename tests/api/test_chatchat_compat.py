"""The Langchain-Chatchat 0.3-compatible routes, called exactly as Chatchat's own client
(``webui_pages/utils.py`` ApiRequest, and the openai SDK its web UI uses for KB chat) calls
them: multipart form fields for uploads, JSON bodies (a bare JSON string for
delete_knowledge_base), query parameters for list_files and download_doc."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.api.conftest import EN, SICK, ZH, LiveServer, SyncASGITransport
from tests.websearch.conftest import web_settings
from zhiku import Zhiku
from zhiku.api import create_app
from zhiku.testing.search_server import SearchServer

KB = "制度库"
# ApiRequest.upload_kb_docs's form fields with Chatchat's defaults
UPLOAD_FORM = {"override": False, "to_vector_store": True, "chunk_size": 750, "chunk_overlap": 150,
               "zh_title_enhance": False, "docs": "{}", "not_refresh_vs_cache": False}


REAL_STATUSES = {401, 403, 413, 422}  # kept as HTTP statuses; every other failure is Chatchat's HTTP 200 + code


def chatchat_error(r: httpx.Response, code: int, type_: str, http: int | None = None) -> dict[str, Any]:
    """Chatchat's envelope (its ``code``, a ``msg``) with zhiku's error object beside it; HTTP 200 as in
    Chatchat, except for validation, access and size refusals, which keep their real status (and the
    OpenAI-shaped route, ``http``)."""
    assert r.status_code == (http or (code if code in REAL_STATUSES else 200)), r.text
    body = r.json()
    assert body["code"] == code and body["msg"] and body["error"]["message"], body
    assert body["error"]["type"] == type_, body
    assert set(body) == {"code", "msg", "data", "error"}
    return body


def stream_json(r: httpx.Response) -> list[dict[str, Any]]:
    """Server-sent ``data:`` lines as ApiRequest._httpx_stream2generator(as_json=True) reads them."""
    assert r.headers["content-type"].startswith("text/event-stream")
    out = []
    for event in r.text.split("\n\n"):
        if event.startswith("data: ") and event != "data: [DONE]":
            out.append(json.loads(event[6:]))
    return out


def upload(raw: httpx.Client, files: list[tuple[str, bytes]], kb: str = KB, **form: Any) -> httpx.Response:
    data = {"knowledge_base_name": kb, **UPLOAD_FORM, **form}
    return raw.post("/knowledge_base/upload_docs", data=data,
                    files=[("files", (name, BytesIO(content))) for name, content in files])


@pytest.fixture
def kb(raw: httpx.Client) -> str:
    r = raw.post("/knowledge_base/create_knowledge_base",
                 json={"knowledge_base_name": KB, "vector_store_type": "faiss", "embed_model": "bge-large-zh-v1.5"})
    assert r.status_code == 200 and r.json()["code"] == 200, r.text
    r = upload(raw, [("年假.md", ZH.encode()), ("病假.md", SICK.encode()), ("refunds.md", EN.encode())])
    assert r.status_code == 200 and r.json()["data"]["failed_files"] == {}, r.text
    return KB


# -- knowledge bases --------------------------------------------------------------------------
def test_knowledge_base_lifecycle(raw: httpx.Client, zk: Zhiku) -> None:
    r = raw.post("/knowledge_base/create_knowledge_base",
                 json={"knowledge_base_name": "手册", "vector_store_type": "faiss", "embed_model": "bge-large-zh-v1.5"})
    body = r.json()
    assert r.status_code == 200 and body["code"] == 200 and "手册" in body["msg"]
    assert zk.kb("手册").embedder == "static"  # an embedder zhiku does not have: its default

    listed = raw.get("/knowledge_base/list_knowledge_bases").json()
    assert listed["code"] == 200 and [x["kb_name"] for x in listed["data"]] == ["手册"]  # the web UI reads kb_name

    r = raw.post("/knowledge_base/update_info", json={"knowledge_base_name": "手册", "kb_info": "员工手册"})
    assert r.json() == {"code": 200, "msg": "知识库介绍修改完成", "data": {"kb_info": "员工手册"}}
    assert zk.kb("手册").description == "员工手册"

    # ApiRequest.delete_knowledge_base sends the name as a bare JSON string
    r = raw.post("/knowledge_base/delete_knowledge_base", json="手册")
    assert r.status_code == 200 and r.json()["code"] == 200
    assert raw.get("/knowledge_base/list_knowledge_bases").json()["data"] == []
    chatchat_error(raw.post("/knowledge_base/delete_knowledge_base", json={"knowledge_base_name": "手册"}),
                   404, "not_found")


def test_errors_answer_as_chatchat_does(raw: httpx.Client, kb: str) -> None:
    # Chatchat's words and code (404, in an HTTP 200) for a duplicate and an empty name
    dup = chatchat_error(raw.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": kb}),
                         404, "conflict")
    assert dup["msg"] == f"已存在同名知识库 {kb}"
    empty = raw.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "  "})
    assert empty.status_code == 200 and empty.json() == {"code": 404, "msg": "知识库名称不能为空，请重新填写知识库名称",
                                                          "data": None}
    missing = chatchat_error(raw.get("/knowledge_base/list_files", params={"knowledge_base_name": "无此库"}),
                             404, "not_found")
    assert missing["data"] == []  # ApiRequest reads r.get("data", []) and iterates it
    chatchat_error(raw.post("/knowledge_base/create_knowledge_base", json={"vector_store_type": "faiss"}),
                   422, "validation_error")
    chatchat_error(raw.post("/chat/kb_chat", json={"query": "", "kb_name": kb}), 422, "validation_error")
    chatchat_error(raw.post("/knowledge_base/search_docs", json={"query": "x", "knowledge_base_name": kb,
                                                                 "score_threshold": 3}), 422, "validation_error")
    chatchat_error(raw.post("/chat/kb_chat", json={"query": "年假", "mode": "search_engine", "kb_name": "bing"}),
                   503, "unavailable")  # web search is off unless configured


# -- files -----------------------------------------------------------------------------------
def test_upload_list_and_failed_files(raw: httpx.Client, kb: str) -> None:
    files = raw.get("/knowledge_base/list_files", params={"knowledge_base_name": kb}).json()
    assert files["code"] == 200
    rows = {f["file_name"]: f for f in files["data"]}
    assert set(rows) == {"年假.md", "病假.md", "refunds.md"}
    assert rows["年假.md"]["in_db"] is True and rows["年假.md"]["docs_count"] >= 1
    assert rows["年假.md"]["file_ext"] == ".md" and rows["年假.md"]["file_size"] == len(ZH.encode())
    assert sorted(f["No"] for f in files["data"]) == [1, 2, 3]

    # the same file again without override: reported as existing (as Chatchat does); a file that
    # cannot be read fails alone while the other one is indexed
    r = upload(raw, [("年假.md", ZH.encode()), ("坏.pdf", b"%PDF-1.4 not really"), ("新.md", "# 新\n\n加班需审批。".encode())])
    assert r.status_code == 200 and r.json()["code"] == 200
    failed = r.json()["data"]["failed_files"]
    assert set(failed) == {"年假.md", "坏.pdf"} and "已存在" in failed["年假.md"] and failed["坏.pdf"]
    names = {f["file_name"]: f for f in raw.get("/knowledge_base/list_files",
                                                params={"knowledge_base_name": kb}).json()["data"]}
    assert names["新.md"]["in_db"] and not names["坏.pdf"]["in_db"] and names["坏.pdf"]["status"] == "failed"

    r = upload(raw, [("年假.md", ZH.encode())], override=True)
    assert r.json()["data"]["failed_files"] == {}

    chatchat_error(upload(raw, [("a.md", b"# a\n\ntext")], kb="无此库"), 404, "not_found")
    chatchat_error(upload(raw, [("a.md", b"# a\n\ntext")], docs=json.dumps({"a.md": [{"content": "x"}]})),
                   400, "invalid_input")  # custom docs are taken (test_chatchat_clients.py); malformed ones are 400
    chatchat_error(raw.post("/knowledge_base/upload_docs", data={"knowledge_base_name": kb},
                            files=[("files", ("", b""))]), 400, "invalid_input")


def test_delete_and_update_docs(raw: httpx.Client, kb: str, zk: Zhiku) -> None:
    r = raw.post("/knowledge_base/update_docs", json={
        "knowledge_base_name": kb, "file_names": ["年假.md", "没有.md"], "override_custom_docs": False,
        "chunk_size": 750, "chunk_overlap": 150, "zh_title_enhance": False, "docs": "{}",
        "not_refresh_vs_cache": False})
    assert r.status_code == 200 and r.json()["code"] == 200
    assert set(r.json()["data"]["failed_files"]) == {"没有.md"}
    assert [f.status for f in zk.list_files(kb) if f.name == "年假.md"] == ["indexed"]

    r = raw.post("/knowledge_base/delete_docs", json={
        "knowledge_base_name": kb, "file_names": ["病假.md", "没有.md"], "delete_content": False,
        "not_refresh_vs_cache": False})
    assert r.json() == {"code": 200, "msg": "文件删除完成", "data": {"failed_files": {"没有.md": "未找到文件 没有.md"}}}
    # delete_content=false: out of the vector store, kept (tests/api/test_chatchat_files_kept.py)
    assert {f.name: f.status for f in zk.list_files(kb)} == {"refunds.md": "indexed", "年假.md": "indexed",
                                                             "病假.md": "failed"}
    r = raw.post("/knowledge_base/delete_docs", json={
        "knowledge_base_name": kb, "file_names": ["病假.md"], "delete_content": True, "not_refresh_vs_cache": False})
    assert r.json() == {"code": 200, "msg": "文件删除完成", "data": {"failed_files": {}}}
    assert sorted(f.name for f in zk.list_files(kb)) == ["refunds.md", "年假.md"]


def test_path_traversal_is_refused_and_touches_nothing(raw: httpx.Client, kb: str, zk: Zhiku, home: Path) -> None:
    before = sorted(p.relative_to(home.parent) for p in home.parent.rglob("*"))
    # (a relative name with folders such as "sub/年假.md" is a name like any other: tests/api/test_upload_names.py)
    for name in ("../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd", "sub/../年假.md",
                 "C:\\Windows\\win.ini", "C:/Windows/win.ini", "年假.md\x00.txt"):
        r = raw.get("/knowledge_base/download_doc", params={"knowledge_base_name": kb, "file_name": name})
        chatchat_error(r, 400, "invalid_input")
        r = raw.post("/knowledge_base/delete_docs", json={"knowledge_base_name": kb, "file_names": ["年假.md", name]})
        chatchat_error(r, 400, "invalid_input")  # nothing deleted: the request is refused as a whole
        chatchat_error(raw.post("/knowledge_base/update_docs", json={"knowledge_base_name": kb, "file_names": [name]}),
                       400, "invalid_input")
    for kb_name in ("../../etc", "../" + kb):
        r = raw.get("/knowledge_base/download_doc", params={"knowledge_base_name": kb_name, "file_name": "passwd"})
        chatchat_error(r, 404, "not_found")
        chatchat_error(raw.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": kb_name}),
                       400, "invalid_input")
    # an upload named to escape the KB (Chatchat's CVE) is refused before anything is kept
    chatchat_error(upload(raw, [("../../evil.md", b"# evil\n\nx")]), 400, "invalid_input")
    assert sorted(f.name for f in zk.list_files(kb)) == ["refunds.md", "年假.md", "病假.md"]
    after = sorted(p.relative_to(home.parent) for p in home.parent.rglob("*"))
    assert not [p for p in after if "evil" in str(p)]
    assert {p for p in after if not str(p).startswith(home.name)} == {p for p in before if not str(p).startswith(home.name)}


def test_download_doc(raw: httpx.Client, kb: str) -> None:
    params = {"knowledge_base_name": kb, "file_name": "年假.md"}
    r = raw.get("/knowledge_base/download_doc", params=params)
    assert r.status_code == 200 and r.content == ZH.encode()
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E5%B9%B4%E5%81%87.md" in r.headers["content-disposition"]
    r = raw.get("/knowledge_base/download_doc", params={**params, "preview": True})
    assert r.headers["content-disposition"].startswith("inline;") and r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-content-type-options"] == "nosniff"
    chatchat_error(raw.get("/knowledge_base/download_doc", params={**params, "file_name": "没有.md"}), 404, "not_found")

    # HTML is never shown inline in the server's origin, even when a preview is asked for
    assert upload(raw, [("page.html", b"<html><body><p>hello</p><script>alert(1)</script></body></html>")]
                  ).json()["data"]["failed_files"] == {}
    r = raw.get("/knowledge_base/download_doc", params={**params, "file_name": "page.html", "preview": True})
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-security-policy"] == "sandbox"


# -- search and rebuild ----------------------------------------------------------------------
def test_search_docs(raw: httpx.Client, kb: str) -> None:
    docs = raw.post("/knowledge_base/search_docs", json={
        "query": "年假有多少天", "knowledge_base_name": kb, "top_k": 3, "score_threshold": 1.0,
        "file_name": "", "metadata": {}}).json()
    assert isinstance(docs, list) and docs[0]["metadata"]["source"] == "年假.md"
    assert "十五天" in docs[0]["page_content"] and docs[0]["type"] == "Document"
    scores = [d["score"] for d in docs]
    assert scores == sorted(scores)  # Chatchat's documented scale: lower is closer
    assert all(d["score"] == pytest.approx(1 - d["metadata"]["relevance"], abs=1e-6) for d in docs)

    strict = docs[0]["score"] + 1e-9
    kept = raw.post("/knowledge_base/search_docs", json={
        "query": "年假有多少天", "knowledge_base_name": kb, "top_k": 3, "score_threshold": strict}).json()
    # Chatchat's ensemble keeps its BM25 half whatever the threshold: hits with a query term stay
    assert [d["id"] for d in kept] == [d["id"] for d in docs
                                       if d["score"] <= strict or d["metadata"]["lexical_score"] > 0]
    assert raw.post("/knowledge_base/search_docs", json={
        "query": "年假有多少天", "knowledge_base_name": kb, "file_name": "病%"}).json()[0]["metadata"]["source"] == "病假.md"

    # no query: the chunks of the files matching file_name (SQL LIKE) and metadata
    listed = raw.post("/knowledge_base/search_docs", json={"knowledge_base_name": kb, "file_name": "%.md",
                                                           "metadata": {"source": "病假.md"}}).json()
    assert listed and {d["metadata"]["source"] for d in listed} == {"病假.md"}
    assert raw.post("/knowledge_base/search_docs", json={"knowledge_base_name": kb}).json() == []
    # an unknown KB: [] as in Chatchat
    assert raw.post("/knowledge_base/search_docs", json={"query": "x", "knowledge_base_name": "无此库"}).json() == []


def test_recreate_vector_store_streams_progress(raw: httpx.Client, kb: str) -> None:
    r = raw.post("/knowledge_base/recreate_vector_store", json={
        "knowledge_base_name": kb, "allow_empty_kb": True, "vs_type": "faiss", "embed_model": "bge-large-zh-v1.5",
        "chunk_size": 750, "chunk_overlap": 150, "zh_title_enhance": False})
    lines = stream_json(r)
    assert [(x["code"], x["finished"], x["total"]) for x in lines] == [(200, 1, 3), (200, 2, 3), (200, 3, 3)]
    assert {x["doc"] for x in lines} == {"年假.md", "病假.md", "refunds.md"}
    docs = raw.post("/knowledge_base/search_docs", json={"query": "病假工资", "knowledge_base_name": kb}).json()
    assert docs[0]["metadata"]["source"] == "病假.md"
    # an unknown KB, as in Chatchat 0.3: without allow_empty_kb a stream saying so; with it (the default)
    # the KB is created, empty, and the stream has no event (no file to add)
    gone = raw.post("/knowledge_base/recreate_vector_store", json={"knowledge_base_name": "无此库",
                                                                   "allow_empty_kb": False})
    assert stream_json(gone) == [{"code": 404, "msg": "未找到知识库 ‘无此库’"}]
    assert "无此库" not in [k["kb_name"] for k in raw.get("/knowledge_base/list_knowledge_bases").json()["data"]]
    made = raw.post("/knowledge_base/recreate_vector_store", json={"knowledge_base_name": "新库"})
    assert made.status_code == 200 and stream_json(made) == []
    assert "新库" in [k["kb_name"] for k in raw.get("/knowledge_base/list_knowledge_bases").json()["data"]]
    assert stream_json(raw.post("/knowledge_base/recreate_vector_store", json={"knowledge_base_name": "新库"})) == []


# -- KB chat ---------------------------------------------------------------------------------
def test_kb_chat_stream_as_chatchat_reads_it(raw: httpx.Client, kb: str) -> None:
    r = raw.post("/chat/kb_chat", json={
        "query": "年假有多少天？", "mode": "local_kb", "kb_name": kb, "top_k": 3, "score_threshold": 1.0,
        "history": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}],
        "stream": True, "model": "glm4-chat", "temperature": 0.7, "max_tokens": 0, "prompt_name": "default",
        "return_direct": False})
    assert r.status_code == 200
    chunks = stream_json(r)
    first = chunks[0]
    assert first["object"] == "chat.completion.chunk" and first["docs"]
    assert first["docs"][0].startswith("出处 [1] [年假.md](http://zhiku.test/knowledge_base/download_doc?")
    answer = "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks)
    assert "十五天" in answer
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["citations"][0]["file"] == "年假.md"
    link = first["docs"][0].split("(", 1)[1].split(")", 1)[0]
    assert raw.get(link.replace("http://zhiku.test", "")).content == ZH.encode()  # the source link works

    whole = raw.post("/chat/kb_chat", json={"query": "年假有多少天？", "kb_name": kb, "stream": False}).json()
    assert whole["object"] == "chat.completion" and "十五天" in whole["choices"][0]["message"]["content"]
    assert whole["docs"] and whole["model"] == "extractive"

    direct = raw.post("/chat/kb_chat", json={"query": "年假有多少天？", "kb_name": kb, "stream": False,
                                             "return_direct": True}).json()
    assert direct["choices"][0]["message"]["content"] == "" and "年假.md" in direct["docs"][0]
    chatchat_error(raw.post("/chat/kb_chat", json={"query": "年假", "kb_name": "无此库"}), 404, "not_found")


def test_an_answer_that_finds_nothing_lists_no_sources(raw: httpx.Client, kb: str) -> None:
    """Under the relevance floor the answer says the KB holds nothing, and ``docs`` agrees (it used to
    list three passages beside that sentence); asked for the sources alone, they are listed."""
    question = {"query": "火星探测器的推进剂是什么？", "kb_name": kb, "top_k": 3, "score_threshold": 1.0}
    chunks = stream_json(raw.post("/chat/kb_chat", json={**question, "stream": True}))
    answer = "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks)
    assert "没有找到" in answer and chunks[0]["docs"] == []
    whole = raw.post("/chat/kb_chat", json={**question, "stream": False}).json()
    assert "没有找到" in whole["choices"][0]["message"]["content"] and whole["docs"] == []
    direct = raw.post("/chat/kb_chat", json={**question, "stream": False, "return_direct": True}).json()
    assert direct["docs"]  # the sources alone, however weak: no answer contradicts them
    found = raw.post("/chat/kb_chat", json={**question, "query": "年假有多少天？", "stream": False}).json()
    assert "十五天" in found["choices"][0]["message"]["content"] and found["docs"]


def test_openai_sdk_against_the_kb_completions_route(zk: Zhiku, raw: httpx.Client, kb: str) -> None:
    """What Chatchat's web UI does: an openai client whose base URL names the mode and the KB."""
    server = LiveServer(zk)
    try:
        client = openai.OpenAI(base_url=f"{server.url}/knowledge_base/local_kb/{kb}", api_key="NONE", max_retries=0)
        messages: Any = [{"role": "user", "content": "年假有多少天？"}]
        stream = client.chat.completions.create(model="qwen2-instruct", messages=messages, stream=True,
                                                extra_body={"top_k": 3, "score_threshold": 1.0, "return_direct": False})
        chunks = list(stream)
        assert "年假.md" in (chunks[0].model_extra or {})["docs"][0]
        assert "十五天" in "".join(c.choices[0].delta.content or "" for c in chunks)
        whole = client.chat.completions.create(model="qwen2-instruct", messages=messages, stream=False)
        assert "十五天" in (whole.choices[0].message.content or "")
        with pytest.raises(openai.NotFoundError):
            openai.OpenAI(base_url=f"{server.url}/knowledge_base/local_kb/无此库", api_key="NONE", max_retries=0
                          ).chat.completions.create(model="x", messages=messages)
    finally:
        server.stop()


# -- file chat, temporary KBs, feedback ----------------------------------------------------------
def test_temp_docs_and_file_chat(raw: httpx.Client) -> None:
    # ApiRequest.upload_temp_docs sends knowledge_id (None: a new one) and the splitting fields
    r = raw.post("/knowledge_base/upload_temp_docs",
                 data={"knowledge_id": None, "chunk_size": 750, "chunk_overlap": 150, "zh_title_enhance": False},
                 files=[("files", ("假期.md", BytesIO(ZH.encode()))), ("files", ("坏.pdf", BytesIO(b"%PDF-1.4 x")))])
    assert r.status_code == 200 and r.json()["code"] == 200, r.text
    data = r.json()["data"]
    tid = data["id"]
    assert [list(f) for f in data["failed_files"]] == [["坏.pdf"]]
    assert raw.get("/knowledge_base/list_knowledge_bases").json()["data"] == []  # temporary KBs stay hidden

    docs = raw.post("/knowledge_base/search_temp_docs", json={"knowledge_id": tid, "query": "年假多少天",
                                                              "top_k": 3, "score_threshold": 1.0}).json()
    assert docs[0]["metadata"]["source"] == "假期.md"

    lines = stream_json(raw.post("/chat/file_chat", json={
        "query": "年假有多少天？", "knowledge_id": tid, "top_k": 3, "score_threshold": 1.0, "history": [],
        "stream": True, "model_name": "glm4-chat", "temperature": 0.9, "max_tokens": None, "prompt_name": "default"}))
    assert "十五天" in "".join(x.get("answer", "") for x in lines)
    assert lines[-1]["docs"][0].startswith("出处 [1] [假期.md]")
    one = stream_json(raw.post("/chat/file_chat", json={"query": "年假有多少天？", "knowledge_id": tid}))
    assert len(one) == 1 and "十五天" in one[0]["answer"] and one[0]["docs"]

    chunks = stream_json(raw.post("/chat/kb_chat", json={"query": "年假有多少天？", "mode": "temp_kb", "kb_name": tid}))
    assert "十五天" in "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks)

    # a new upload naming the previous id adds to it and keeps the id (failed_files: this upload's only)
    r = raw.post("/knowledge_base/upload_temp_docs", data={"prev_id": tid},
                 files=[("files", ("退款.md", BytesIO(EN.encode())))])
    assert r.json()["data"]["id"] == tid and r.json()["data"]["failed_files"] == [], r.text
    for query, source in (("年假多少天", "假期.md"), ("refunds paid", "退款.md")):
        docs = raw.post("/knowledge_base/search_temp_docs", json={"knowledge_id": tid, "query": query, "top_k": 1}).json()
        assert docs[0]["metadata"]["source"] == source
    # an id that is not (or no longer) there: a new temporary KB
    r = raw.post("/knowledge_base/upload_temp_docs", data={"prev_id": "0" * 32},
                 files=[("files", ("退款.md", BytesIO(EN.encode())))])
    assert r.json()["code"] == 200 and r.json()["data"]["id"] not in (tid, "0" * 32)


def test_feedback_on_a_zhiku_message(raw: httpx.Client, kb: str, zk: Zhiku) -> None:
    conv = raw.post("/api/conversations", json={"mode": "kb", "kbs": [kb]})
    assert conv.status_code in (200, 201), conv.text
    cid = conv.json()["id"]
    reply = raw.post(f"/api/conversations/{cid}/messages", json={"content": "年假有多少天？"})
    assert reply.status_code in (200, 201), reply.text
    mid = reply.json()["id"]
    r = raw.post("/chat/feedback", json={"message_id": mid, "score": 100, "reason": "准确"})
    assert r.status_code == 200 and r.json()["code"] == 200, r.text
    messages = raw.get(f"/api/conversations/{cid}").json()["messages"]
    assert [m["feedback"]["rating"] for m in messages if m["id"] == mid] == ["up"]
    r = raw.post("/chat/feedback", json={"message_id": mid, "score": 0, "reason": "不对"})
    assert r.json()["data"]["rating"] == "down"
    chatchat_error(raw.post("/chat/feedback", json={"message_id": "0" * 32, "score": 100}), 404, "not_found")
    chatchat_error(raw.post("/chat/feedback", json={"message_id": "x" * 33, "score": 100}), 422, "validation_error")



def test_search_engine_mode_answers_from_the_web(home: Path) -> None:
    with SearchServer() as server, Zhiku(web_settings(home, server)) as app:
        transport = SyncASGITransport(create_app(app))
        with httpx.Client(base_url="http://zhiku.test", transport=transport) as raw:
            chunks = stream_json(raw.post("/chat/kb_chat", json={
                "query": "When is Longjing tea harvested?", "mode": "search_engine", "kb_name": "duckduckgo"}))
            assert chunks[0]["docs"][0].startswith(f"出处 [1] [Longjing tea - Tea Encyclopedia]({server.base}/pages/tea)")
            assert "early spring" in "".join(c["choices"][0]["delta"]["content"] or "" for c in chunks)
            assert chunks[-1]["citations"][0]["url"] == f"{server.base}/pages/tea"
            direct = raw.post("/knowledge_base/search_engine/searx/chat/completions", json={
                "messages": [{"role": "user", "content": "Longjing tea"}], "return_direct": True}).json()
            assert [d.split("](")[1].split(")")[0] for d in direct["docs"]] == [
                f"{server.base}/pages/{p}" for p in ("volcano", "tea", "tea-zh")]
        transport.close()


# -- access control -----------------------------------------------------------------------------
def test_each_user_reaches_only_their_knowledge_bases(zk: Zhiku) -> None:
    zk.auth.create_user("alice", "alice-password-1", "user")
    zk.auth.create_user("bob", "bob-password-22", "user")
    zk.create_kb("无主库")  # nobody's: admins only
    transport = SyncASGITransport(create_app(zk))

    def as_(user: str, scopes: tuple[str, ...] = ("read", "write")) -> httpx.Client:
        secret = zk.auth.create_key(user, "test", scopes)[1]
        return httpx.Client(base_url="http://zhiku.test", transport=transport,
                            headers={"Authorization": f"Bearer {secret}"})

    with as_("alice") as alice, as_("bob") as bob, as_("bob", ("read",)) as reader:
        r = alice.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "alice的库"})
        assert r.status_code == 200, r.text
        assert upload(alice, [("年假.md", ZH.encode())], kb="alice的库").json()["data"]["failed_files"] == {}
        assert [k["kb_name"] for k in alice.get("/knowledge_base/list_knowledge_bases").json()["data"]] == ["alice的库"]
        assert bob.get("/knowledge_base/list_knowledge_bases").json()["data"] == []

        # another user's KB answers like one that does not exist, on every route
        asks = [
            ("get", "/knowledge_base/list_files", {"params": {"knowledge_base_name": "alice的库"}}),
            ("get", "/knowledge_base/download_doc", {"params": {"knowledge_base_name": "alice的库", "file_name": "年假.md"}}),
            ("post", "/knowledge_base/search_docs", {"json": {"query": "年假", "knowledge_base_name": "alice的库"}}),
            ("post", "/chat/kb_chat", {"json": {"query": "年假", "kb_name": "alice的库"}}),
            ("post", "/knowledge_base/local_kb/alice的库/chat/completions",
             {"json": {"messages": [{"role": "user", "content": "年假"}]}}),
            ("post", "/knowledge_base/delete_docs", {"json": {"knowledge_base_name": "alice的库", "file_names": ["年假.md"]}}),
            ("post", "/knowledge_base/update_info", {"json": {"knowledge_base_name": "alice的库", "kb_info": "x"}}),
            ("post", "/knowledge_base/delete_knowledge_base", {"json": "alice的库"}),
            ("post", "/knowledge_base/recreate_vector_store", {"json": {"knowledge_base_name": "alice的库"}}),
        ]
        for method, path, kw in asks:
            r = getattr(bob, method)(path, **kw)
            if path.endswith("search_docs"):
                assert r.json() == []  # Chatchat's answer for a KB it does not have
            elif path.endswith("recreate_vector_store"):
                assert stream_json(r) == [{"code": 404, "msg": "未找到知识库 ‘alice的库’"}]
            else:
                chatchat_error(r, 404, "not_found", http=404 if path.endswith("/chat/completions") else None)
        chatchat_error(upload(bob, [("x.md", b"# x\n\ny")], kb="alice的库"), 404, "not_found")
        # recreate_vector_store creates an unknown KB (allow_empty_kb) for a writer, owned by them
        assert stream_json(bob.post("/knowledge_base/recreate_vector_store",
                                    json={"knowledge_base_name": "bob的库"})) == []
        assert [k["kb_name"] for k in bob.get("/knowledge_base/list_knowledge_bases").json()["data"]] == ["bob的库"]
        assert reader.post("/knowledge_base/recreate_vector_store",
                           json={"knowledge_base_name": "读者库"}).status_code == 403
        assert "读者库" not in [k.name for k in zk.list_kbs()]
        chatchat_error(alice.get("/knowledge_base/list_files", params={"knowledge_base_name": "无主库"}), 404, "not_found")
        chatchat_error(reader.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": "b"}),
                       403, "forbidden")
        assert [f.name for f in zk.list_files("alice的库")] == ["年假.md"]
        assert alice.post("/knowledge_base/delete_knowledge_base", json="alice的库").json()["code"] == 200

        # temporary KBs are their uploader's only; with no key nothing is accepted
        tid = alice.post("/knowledge_base/upload_temp_docs", files=[("files", ("假期.md", BytesIO(ZH.encode())))]
                         ).json()["data"]["id"]
        assert alice.post("/knowledge_base/search_temp_docs", json={"knowledge_id": tid, "query": "年假"}).json()
        chatchat_error(bob.post("/knowledge_base/search_temp_docs", json={"knowledge_id": tid, "query": "年假"}),
                       404, "not_found")
        chatchat_error(bob.post("/chat/file_chat", json={"query": "年假", "knowledge_id": tid}), 404, "not_found")
        chatchat_error(bob.post("/chat/kb_chat", json={"query": "年假", "mode": "temp_kb", "kb_name": tid}),
                       404, "not_found")
        anonymous = httpx.Client(base_url="http://zhiku.test", transport=transport)  # closed with the others
        r = anonymous.post("/knowledge_base/upload_temp_docs", files=[("files", ("a.md", BytesIO(b"# a\n\nb")))])
        assert r.status_code == 401, r.text
        r = anonymous.get("/knowledge_base/list_knowledge_bases")
        assert r.status_code == 401, r.text
    transport.close()


def test_no_key_is_401_when_auth_is_on(zk: Zhiku, raw: httpx.Client) -> None:
    """Every compat route (they stay out of /docs, so the OpenAPI-driven auth test does not see
    them): walked from the routers themselves, called with no key and with a bogus one."""
    from zhiku.api.routes import chatchat_chat, chatchat_files, chatchat_kb, chatchat_server, chatchat_summary

    zk.auth.create_user("alice", "alice-password-1", "user")
    routes = [(m, r.path) for mod in (chatchat_kb, chatchat_files, chatchat_chat, chatchat_server, chatchat_summary)
              for r in mod.router.routes for m in r.methods]
    assert len(routes) >= 24
    for method, path in routes:
        url = path.replace("{mode}", "local_kb").replace("{param}", KB)
        for headers in ({}, {"Authorization": "Bearer zk-not-a-key"}):
            r = raw.request(method, url, json={"query": "x"}, headers=headers)
            assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized", (method, url, r.text)
    # a Chatchat path zhiku does not serve is an API path too: no key, 401 (JSON); with one, the JSON 404
    r = raw.post("/server/nothing", json={})
    assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"
    secret = zk.auth.create_key("alice", "k", ("read",))[1]
    r = raw.post("/server/nothing", json={}, headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 404 and r.json()["code"] == 404
