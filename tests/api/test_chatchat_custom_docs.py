"""Issue 16, item 4, through Chatchat's real web-UI client (vendored ``ApiRequest``): custom ``docs``
on ``update_docs`` / ``upload_docs`` (the KB page's chunk editor, "保存更改") replace the file's chunks
one for one, more or fewer than it had: each embedded and indexed, searchable at once, the old text gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.api.chatchat_clients import api_request
from tests.api.conftest import LiveServer
from zhiku import Zhiku

KB = "编辑库"
pytestmark = pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")


@pytest.fixture
def api(zk: Zhiku) -> Iterator[Any]:
    server = LiveServer(zk)
    yield api_request(server.url)
    server.stop()


def _docs(texts: list[str]) -> list[dict[str, Any]]:
    return [{"page_content": t, "metadata": {}, "type": "Document"} for t in texts]


def _chunks(api: Any, name: str) -> list[str]:
    """The file's docs as the KB page lists them (search_docs with no query, by file name)."""
    return [d["page_content"] for d in api.search_kb_docs(KB, "", file_name=name)]


def _found(api: Any, query: str, word: str) -> bool:
    return any(word in d["page_content"] for d in api.search_kb_docs(KB, query, top_k=3, score_threshold=1.0))


@pytest.mark.parametrize(("before", "after"), [(3, 5), (5, 2)])
def test_custom_docs_replace_a_files_chunks_one_for_one(api: Any, zk: Zhiku, tmp_path: Path,
                                                         before: int, after: int) -> None:
    assert api.create_knowledge_base(KB)["code"] == 200
    path = tmp_path / "制度.md"
    path.write_text("# 制度\n\n原来的内容。\n", encoding="utf-8")
    first = [f"第{i}条旧规定：报销单据保存{i + 1}年，编号甲{i}。" for i in range(before)]
    # upload_docs with docs (as the client sends them: a JSON string form field)
    r = api.upload_kb_docs([path], knowledge_base_name=KB, override=True, docs={"制度.md": _docs(first)})
    assert r["code"] == 200 and r["data"]["failed_files"] == {}, r
    assert _chunks(api, "制度.md") == first
    assert _found(api, "编号甲1", "编号甲1")

    second = [f"第{i}条新规定：差旅补贴每天{(i + 1) * 100}元，代码乙{i}。" for i in range(after)]
    r = api.update_kb_docs(knowledge_base_name=KB, file_names=["制度.md"], docs={"制度.md": _docs(second)})
    assert r["code"] == 200 and r["data"]["failed_files"] == {}, r
    assert _chunks(api, "制度.md") == second  # one chunk per doc, in order: none joined, none left over
    for i in range(after):
        assert _found(api, f"代码乙{i}", f"代码乙{i}"), i
    for i in range(before):
        assert not _found(api, f"编号甲{i}", f"编号甲{i}"), i  # the old text is gone from search
    record = next(f for f in zk.list_files(KB) if f.name == "制度.md")
    assert record.status == "indexed" and record.chunks == after
    assert zk.check(KB) == []
    assert [(f["file_name"], f["docs_count"]) for f in api.list_kb_docs(KB)] == [("制度.md", after)]


def test_custom_docs_bring_a_kept_file_back_into_the_vector_store(api: Any, zk: Zhiku, tmp_path: Path) -> None:
    """"从向量库删除" (delete_docs, delete_content false) keeps the file out of search; "保存更改" with
    docs then indexes it with those docs, as Chatchat's update_doc adds them."""
    assert api.create_knowledge_base(KB)["code"] == 200
    path = tmp_path / "制度.md"
    path.write_text("# 制度\n\n原来的内容，编号丙。\n", encoding="utf-8")
    assert api.upload_kb_docs([path], knowledge_base_name=KB)["data"]["failed_files"] == {}
    r = api.delete_kb_docs(KB, file_names=["制度.md"], delete_content=False)
    assert r["code"] == 200 and not _found(api, "编号丙", "编号丙")
    docs = ["新的第一条，代码丁一。", "新的第二条，代码丁二。"]
    r = api.update_kb_docs(knowledge_base_name=KB, file_names=["制度.md"], docs={"制度.md": _docs(docs)})
    assert r["code"] == 200 and r["data"]["failed_files"] == {}, r
    assert _chunks(api, "制度.md") == docs and _found(api, "代码丁二", "代码丁二")
    assert [(f["file_name"], f["in_db"], f["docs_count"]) for f in api.list_kb_docs(KB)] == [("制度.md", True, 2)]
    assert zk.check(KB) == []
