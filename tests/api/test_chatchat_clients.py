"""Issue 16 through Chatchat's real clients (vendored, unmodified: tests/vendor/chatchat): its web
UI's ``ApiRequest`` and its python SDK, called with the arguments Chatchat's pages and defaults
use, against zhiku served by a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.api.chatchat_clients import api_request, sdk
from tests.api.conftest import EN, SICK, ZH, LiveServer
from zhiku import Zhiku

KB = "制度库"
# the vendored SDK is pydantic-1 style code (``.dict()``, ``Field(max=...)``): its deprecation warnings are its own
pytestmark = pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")


@pytest.fixture
def server(zk: Zhiku) -> Iterator[LiveServer]:
    s = LiveServer(zk)
    yield s
    s.stop()


@pytest.fixture
def api(server: LiveServer) -> Any:
    return api_request(server.url)


@pytest.fixture
def filled(api: Any, tmp_path: Path) -> Any:
    """制度库 with three files, made as Chatchat's KB page makes it."""
    assert api.create_knowledge_base(KB, vector_store_type="faiss", embed_model="bge-large-zh-v1.5")["code"] == 200
    paths = []
    for name, text in [("年假.md", ZH), ("病假.md", SICK), ("refunds.md", EN)]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(tmp_path / name)
    r = api.upload_kb_docs(paths, knowledge_base_name=KB, override=True)
    assert r["code"] == 200 and r["data"]["failed_files"] == {}, r
    return api


# -- item 2: score_threshold -------------------------------------------------------------------
def test_the_sdk_default_threshold_keeps_what_chatchat_would_return(filled: Any, server: LiveServer) -> None:
    client = sdk(server.url)
    # the SDK's default score_threshold is 0.4, the web UI recommends 0.5
    for docs in (client.knowledge.search_kb_docs(KB, "病假工资怎么发"),
                 filled.search_kb_docs(KB, "病假工资怎么发", top_k=3, score_threshold=0.5)):
        assert docs and docs[0]["metadata"]["source"] == "病假.md", docs
        # each hit is one the lexical half found (as Chatchat's BM25 half returns it) or within the threshold
        assert all(d["metadata"]["lexical_score"] > 0 or d["score"] <= 0.5 for d in docs)
    # a question no file shares a word with, every hit far: Chatchat's BM25 half still returns top_k docs
    far = filled.search_kb_docs(KB, "火星探测器的推进剂是什么", top_k=3, score_threshold=0.4)
    assert len(far) == 3 and all(d["score"] > 0.4 for d in far)
    # and kb_chat's sources with the SDK's defaults are not emptied by the threshold either
    chunks = list(client.chat.kb_chat("病假工资怎么发", kb_name=KB, return_direct=True))
    assert chunks[0]["docs"] and "病假.md" in chunks[0]["docs"][0]


# -- item 5: every Chatchat path is JSON ---------------------------------------------------------
def test_server_other_and_summary_routes_answer_json(filled: Any, server: LiveServer) -> None:
    configs = filled.get_server_configs()
    assert configs["api_address"] == server.url and "static" in configs["embed_models"]
    template = filled.get_prompt_template(type="rag", name="default")  # ApiRequest returns the raw text
    assert '"code":200' in template.replace(" ", "") and "{question}" in template
    vectors = filled.embed_texts(["年假", "refunds"], embed_model="static", to_query=True)
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 10
    client = sdk(server.url)
    assert client.server.get_server_configs()["api_address"] == server.url
    # the summary routes answer in Chatchat's envelope (tests/api/test_summaries_api.py tests them fully)
    r = client.knowledge._post("/knowledge_base/kb_summary_api/summary_doc_ids_to_vector_store",
                               json={"knowledge_base_name": KB, "doc_ids": []})
    assert r.json()["code"] == 200 and r.json()["data"] == {"summarize": []}
    # a Chatchat path zhiku does not serve: JSON in Chatchat's envelope, which the clients can read
    for path in ("/chat/chat", "/server/nothing", "/other/completion", "/knowledge_base/nothing/here"):
        r = filled.post(path, json={})
        assert r.status_code == 404 and r.json()["code"] == 404 and path in r.json()["msg"], (path, r.text)
        assert filled.get(path).json()["code"] == 404
    assert list(filled.chat_chat("你好", metadata={})) == [{"code": 404, "msg": filled.post("/chat/chat").json()["msg"],
                                                           "data": None, "error": filled.post("/chat/chat").json()["error"]}]


# -- item 6: Chatchat's statuses and messages -----------------------------------------------------
def test_errors_are_chatchats(filled: Any, server: LiveServer) -> None:
    assert filled.create_knowledge_base("") == {"code": 404, "msg": "知识库名称不能为空，请重新填写知识库名称", "data": None}
    dup = filled.create_knowledge_base(KB)
    assert (dup["code"], dup["msg"]) == (404, f"已存在同名知识库 {KB}")
    assert filled.search_kb_docs("无此库", "年假", top_k=3, score_threshold=1.0) == []
    assert list(filled.recreate_vector_store("无此库", allow_empty_kb=False)) == [
        {"code": 404, "msg": "未找到知识库 ‘无此库’"}]
    # with allow_empty_kb, Chatchat 0.3 creates the KB (kb_doc_api.py: kb.create_kb()); nothing to add
    assert list(filled.recreate_vector_store("空库", allow_empty_kb=True)) == []
    assert "空库" in [k["kb_name"] for k in filled.list_knowledge_bases()]
    assert filled.list_kb_docs("无此库") == []  # ApiRequest reads r.get("data", []): an empty list
    gone = filled.delete_knowledge_base("无此库")
    assert (gone["code"], gone["msg"]) == (404, "未找到知识库 无此库")
    client = sdk(server.url)
    assert client.knowledge.search_kb_docs("无此库", "年假") == []
    # the success paths the KB page goes through keep Chatchat's messages
    assert filled.update_kb_info(KB, "制度")["msg"] == "知识库介绍修改完成"
    progress = list(filled.recreate_vector_store(KB, allow_empty_kb=True))
    assert [(p["code"], p["finished"], p["total"]) for p in progress] == [(200, 1, 3), (200, 2, 3), (200, 3, 3)]


# -- item 7: temporary KBs keep their id --------------------------------------------------------
def test_upload_temp_docs_adds_to_the_same_knowledge_id(filled: Any, server: LiveServer, tmp_path: Path) -> None:
    (tmp_path / "假期.md").write_text(ZH, encoding="utf-8")
    (tmp_path / "refunds.md").write_text(EN, encoding="utf-8")
    first = filled.upload_temp_docs([tmp_path / "假期.md"])
    tid = first["data"]["id"]
    assert first["code"] == 200 and first["data"]["failed_files"] == []
    # the file chat page sends the id it holds as knowledge_id: the files join that temporary KB
    second = filled.upload_temp_docs([tmp_path / "refunds.md"], knowledge_id=tid)
    assert second["data"]["id"] == tid and second["data"]["failed_files"] == [], second
    both = [d["metadata"]["source"] for q in ("年假有几天", "refunds paid within days")
            for d in sdk(server.url).knowledge.search_temp_kb_docs(tid, q, top_k=1, score_threshold=1.0)]
    assert both == ["假期.md", "refunds.md"]
    # the SDK sends prev_id: the same
    third = sdk(server.url).knowledge.upload_temp_docs([tmp_path / "假期.md"], knowledge_id=tid)
    assert third["data"]["id"] == tid
    answer = "".join(c.get("answer", "") for c in filled.file_chat("年假有几天", knowledge_id=tid, stream=True))
    assert "十五天" in answer


def test_feedback_rates_a_kb_chat_answer_by_its_message_id(filled: Any, server: LiveServer, zk: Zhiku) -> None:
    client = sdk(server.url)
    chunks = list(client.chat.kb_chat("年假有多少天？", kb_name=KB, stream=True))
    ids = {c.get("message_id") for c in chunks if "choices" in c}
    assert len(ids) == 1 and None not in ids, chunks  # every chunk names the answer, as Chatchat's do
    message_id = ids.pop()
    # the web UI rates through ApiRequest.chat_feedback (0-100), the SDK through chat_feedback
    r = filled.chat_feedback(message_id, 20, "太长了")
    assert r.status_code == 200 and r.json()["code"] == 200, r.text
    assert r.json()["data"]["rating"] == "down" and r.json()["data"]["reason"] == "太长了"
    again = client.chat.chat_feedback(message_id=message_id, score=90, reason="")
    assert again["code"] == 200 and again["data"]["rating"] == "up"
    from zhiku.api.routes.chatchat_answers import get
    for _ in range(200):  # the answer is written off the event loop once the stream has ended
        kept = get(zk.engine, message_id)
        if kept["answer"]:
            break
        time.sleep(0.05)
    assert kept["question"] == "年假有多少天？" and "十五天" in kept["answer"] and kept["score"] == 90
    # the answer is no conversation of the caller's
    assert zk.conversations.list("local", 100, 0) == []
    # non-streaming answers carry one too; an unknown id is Chatchat's code 404
    whole = next(iter(client.chat.kb_chat("病假工资怎么发", kb_name=KB, stream=False)))
    assert whole["message_id"] and filled.chat_feedback(whole["message_id"], 60).json()["code"] == 200
    assert filled.chat_feedback("0" * 32, 60).json()["code"] == 404


# -- item 4: custom docs ---------------------------------------------------------------------------
def test_custom_docs_replace_the_files_chunks(filled: Any, server: LiveServer, tmp_path: Path) -> None:
    # the KB page's chunk editor: it lists a file's docs through search_docs (no query, file_name) and
    # saves with update_kb_docs(knowledge_base_name, file_names=[f], docs={f: changed_docs})
    docs = filled.search_kb_docs(KB, "", file_name="病假.md")
    assert docs and all(d["metadata"]["source"] == "病假.md" for d in docs)
    changed = [{"page_content": "病假须提交三甲医院的诊断证明，病假工资按基本工资的百分之九十发放。", "type": "Document",
                "metadata": docs[0]["metadata"]}]
    r = filled.update_kb_docs(knowledge_base_name=KB, file_names=["病假.md"], docs={"病假.md": changed})
    assert r["code"] == 200 and r["data"]["failed_files"] == {}, r
    after = filled.search_kb_docs(KB, "", file_name="病假.md")
    assert [d["page_content"] for d in after] == [changed[0]["page_content"]]
    assert after[0]["metadata"]["edited"] is True  # embedded and indexed as an edited chunk
    hit = filled.search_kb_docs(KB, "三甲医院的诊断证明", top_k=1, score_threshold=1.0)[0]
    assert hit["metadata"]["source"] == "病假.md" and "百分之九十" in hit["page_content"]
    # with an upload (Chatchat's raw form field, a JSON string): more docs than chunks, one chunk each
    (tmp_path / "报销.md").write_text("# 报销\n\n差旅费凭发票在三十天内报销。\n", encoding="utf-8")
    custom = {"报销.md": [{"page_content": "差旅费须在出差结束后三十天内凭发票报销。"},
                         {"page_content": "市内交通费按实报销，每月上限五百元。"}]}
    r = filled.upload_kb_docs([tmp_path / "报销.md"], knowledge_base_name=KB, override=True, docs=custom)
    assert r["code"] == 200 and r["data"]["failed_files"] == {}, r
    texts = [d["page_content"] for d in filled.search_kb_docs(KB, "", file_name="报销.md")]
    assert texts == ["差旅费须在出差结束后三十天内凭发票报销。", "市内交通费按实报销，每月上限五百元。"]
    # docs for a file the KB does not hold: that file fails, with the reason; malformed docs: code 400
    r = filled.update_kb_docs(knowledge_base_name=KB, file_names=["没有.md"], docs={"没有.md": changed})
    assert "没有.md" in r["data"]["failed_files"] and "no file of that name" in r["data"]["failed_files"]["没有.md"]
    bad = filled.update_kb_docs(knowledge_base_name=KB, file_names=["病假.md"], docs={"病假.md": [{"x": 1}]})
    assert bad["code"] == 400 and "page_content" in bad["msg"]
