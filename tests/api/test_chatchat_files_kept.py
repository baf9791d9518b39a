"""Chatchat's "从向量库删除" (``delete_docs`` with ``delete_content: false``) takes files out of the
vector store but keeps them, as Chatchat does: listed with ``in_folder: true, in_db: false``, still
downloadable, and ``update_docs`` ("添加至向量库") or ``recreate_vector_store`` index them again.
``delete_content: true`` ("从知识库中删除") erases them. Requests are sent as Chatchat's ApiRequest
sends them (JSON bodies; multipart ``files`` + form fields for the upload)."""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

import httpx
import pytest

from tests.api.conftest import EN, ZH
from zhiku import Zhiku

KB = "制度库"
WIKI = "# Wiki\n\nThe build server restarts every night at two o'clock.\n"
FORM = {"override": False, "to_vector_store": True, "chunk_size": 750, "chunk_overlap": 150,
        "zh_title_enhance": False, "docs": "{}", "not_refresh_vs_cache": False}


@pytest.fixture
def kb(raw: httpx.Client) -> str:
    r = raw.post("/knowledge_base/create_knowledge_base", json={"knowledge_base_name": KB})
    assert r.json()["code"] == 200, r.text
    parts = [("年假.md", ZH.encode()), ("refunds.md", EN.encode()), ("wiki/Home.MD", WIKI.encode())]
    r = raw.post("/knowledge_base/upload_docs", data={"knowledge_base_name": KB, **FORM},
                 files=[("files", (n, BytesIO(c))) for n, c in parts])
    assert r.status_code == 200 and r.json()["data"]["failed_files"] == {}, r.text
    return KB


def listed(raw: httpx.Client) -> dict[str, dict[str, Any]]:
    rows = raw.get("/knowledge_base/list_files", params={"knowledge_base_name": KB}).json()["data"]
    return {row["file_name"]: row for row in rows}


def found(raw: httpx.Client, query: str, text: str) -> bool:
    docs = raw.post("/knowledge_base/search_docs", json={"knowledge_base_name": KB, "query": query, "top_k": 10}).json()
    return any(text in d["page_content"] for d in docs)


def delete_docs(raw: httpx.Client, names: list[str], delete_content: bool) -> dict[str, Any]:
    r = raw.post("/knowledge_base/delete_docs", json={
        "knowledge_base_name": KB, "file_names": names, "delete_content": delete_content,
        "not_refresh_vs_cache": False})
    assert r.status_code == 200 and r.json()["code"] == 200, r.text
    return dict(r.json()["data"]["failed_files"])


@pytest.mark.parametrize("name,query,text", [
    ("refunds.md", "refunds paid within 14 days", "Refunds are paid"),
    ("wiki/Home.MD", "build server restarts every night", "build server"),
])
def test_delete_from_vector_store_keeps_the_file(raw: httpx.Client, kb: str, zk: Zhiku, name: str, query: str,
                                                 text: str) -> None:
    assert found(raw, query, text)
    stored = zk.settings.home / "kbs" / zk.kb(KB).id / "files"
    copies = sorted(p.name for p in stored.iterdir())

    assert delete_docs(raw, [name], delete_content=False) == {}
    assert not found(raw, query, text)  # out of the vector store: not searchable
    row = listed(raw)[name]
    assert (row["in_folder"], row["in_db"], row["docs_count"]) == (True, False, 0)
    assert sorted(p.name for p in stored.iterdir()) == copies  # the stored copy is kept
    r = raw.get("/knowledge_base/download_doc", params={"knowledge_base_name": KB, "file_name": name})
    assert r.status_code == 200 and r.content.decode() in (EN, WIKI)
    record = next(f for f in zk.list_files(KB) if f.name == name)
    assert record.status == "failed" and "delete_content=false" in (record.error or "")
    assert zk.check(KB) == []  # kb check sees a consistent KB
    assert delete_docs(raw, [name], delete_content=False) == {}  # again: nothing to do, not an error

    # "添加至向量库": update_docs indexes it again
    r = raw.post("/knowledge_base/update_docs", json={"knowledge_base_name": KB, "file_names": [name]})
    assert r.json()["code"] == 200 and r.json()["data"]["failed_files"] == {}, r.text
    assert found(raw, query, text)
    assert listed(raw)[name]["in_db"] is True
    assert len(list(stored.iterdir())) == len(copies)  # one stored copy per file, still

    # recreate_vector_store brings a kept file back too
    delete_docs(raw, [name], delete_content=False)
    r = raw.post("/knowledge_base/recreate_vector_store", json={"knowledge_base_name": KB, "allow_empty_kb": True})
    lines = [json.loads(e[6:]) for e in r.text.split("\n\n") if e.startswith("data: ")]
    assert [x["code"] for x in lines] == [200, 200, 200] and name in {x["doc"] for x in lines}
    assert found(raw, query, text) and listed(raw)[name]["in_db"] is True
    assert zk.check(KB) == []


def test_delete_content_erases_the_file(raw: httpx.Client, kb: str, zk: Zhiku) -> None:
    stored = zk.settings.home / "kbs" / zk.kb(KB).id / "files"
    delete_docs(raw, ["refunds.md"], delete_content=False)  # kept first, then erased
    assert delete_docs(raw, ["refunds.md", "wiki/Home.MD", "没有.md"], delete_content=True) == {
        "没有.md": "未找到文件 没有.md"}
    assert list(listed(raw)) == ["年假.md"]
    assert len(list(stored.iterdir())) == 1
    r = raw.get("/knowledge_base/download_doc", params={"knowledge_base_name": KB, "file_name": "refunds.md"})
    assert r.status_code == 200 and r.json()["code"] == 404  # Chatchat's envelope, as for every content error
    assert not found(raw, "refunds paid within 14 days", "Refunds are paid")
    assert delete_docs(raw, ["refunds.md"], delete_content=False) == {"refunds.md": "未找到文件 refunds.md"}
