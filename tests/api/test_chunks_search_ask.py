"""Chunks (read, edit, delete), search and answers over one or several knowledge bases."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from tests.api.conftest import EN, SICK, ZH, assert_error
from zhiku import Zhiku
from zhiku.client import AsyncZhikuClient, ZhikuClient
from zhiku.errors import InvalidInput, NotFound


def _fill(client: ZhikuClient) -> None:
    client.create_kb("zh")
    client.create_kb("en")
    client.wait_for_job(client.upload("zh", [("leave.md", ZH.encode()), ("sick.md", SICK.encode())]).id)
    client.wait_for_job(client.upload("en", [("refund.md", EN.encode()), ("cats.txt", b"Unrelated text about cats.")]).id)


def test_chunk_edit_changes_search_results(client: ZhikuClient, zk: Zhiku) -> None:
    _fill(client)
    leave = next(f for f in client.list_files("zh") if f.name == "leave.md")
    chunks = client.list_chunks("zh", leave.id)
    assert chunks and all(c.file_id == leave.id for c in chunks)
    target = next(c for c in chunks if "十五天" in c.text)
    assert client.get_chunk("zh", target.id).text == target.text
    assert client.search("zh", "育儿补贴", mode="lexical") == []

    edited = client.edit_chunk("zh", target.id, "员工育儿补贴每月随工资发放五百元。")
    assert edited.id == target.id and edited.text.startswith("员工育儿") and edited.meta.get("edited") is True
    hits = client.search("zh", "育儿补贴", mode="lexical")
    assert hits and hits[0].chunk_id == target.id and "育儿补贴" in hits[0].text
    assert all("十五天" not in h.text for h in client.search("zh", "十五天 带薪", top_k=10))
    dense = client.search("zh", "员工育儿补贴每月随工资发放五百元", mode="dense")
    assert dense[0].chunk_id == target.id, "the edited text was not re-embedded"
    assert zk.check("zh") == [], "indexes disagree with the database after an edit"

    client.delete_chunk("zh", target.id)
    assert client.search("zh", "育儿补贴", mode="lexical") == []
    with pytest.raises(NotFound):
        client.get_chunk("zh", target.id)
    assert client.get_file("zh", leave.id).chunks == len(chunks) - 1
    assert zk.check("zh") == []
    with pytest.raises(InvalidInput):
        client.edit_chunk("zh", target.id, "   ")  # blank text (400); "" fails validation (422)


def test_search_options_and_several_kbs(client: ZhikuClient) -> None:
    _fill(client)
    hits = client.search(["zh", "en"], "refund 年假", top_k=10, mode="lexical")
    assert {h.kb for h in hits} == {"zh", "en"}
    assert all(0 <= h.score <= 1 for h in hits)
    only = client.search("en", "refund", file="*.txt", mode="dense", top_k=10)
    assert only and {h.file for h in only} == {"cats.txt"}
    assert len(client.search(["zh", "en"], "年假", top_k=1)) == 1
    with pytest.raises(NotFound):
        client.search(["zh", "missing"], "年假")


def test_ask_json_and_stream(client: ZhikuClient) -> None:
    _fill(client)
    answer = client.ask(["zh", "en"], "病假工资怎么算？")
    assert answer.found and answer.citations and "[1]" in answer.answer
    first = answer.citations[0]
    assert (first.n, first.kb, first.file) == (1, "zh", "sick.md") and first.chunk_id > 0
    events = list(client.ask_stream(["zh", "en"], "病假工资怎么算？"))
    kinds = [e.type for e in events]
    assert kinds[0] == "start" and kinds[-2:] == ["citations", "done"] and "delta" in kinds
    streamed = "".join(e.text for e in events if e.type == "delta")
    done = events[-1].answer
    assert done is not None and streamed == done.answer == answer.answer
    assert [c.chunk_id for c in events[-2].citations] == [c.chunk_id for c in answer.citations]
    nothing = client.ask("en", "量子色动力学的渐近自由是什么？")
    assert not nothing.found and nothing.citations == []


def test_ask_errors_come_before_the_stream(raw: httpx.Client) -> None:
    raw.post("/api/kbs", json={"name": "kb"})
    assert_error(raw.post("/api/ask", json={"kbs": ["nope"], "question": "x", "stream": True}), 404, "not_found")
    assert_error(raw.post("/api/ask", json={"kbs": ["kb"], "question": ""}), 422, "validation_error")
    response = raw.post("/api/ask", json={"kbs": ["kb"], "question": "anything", "stream": True})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert "event: done" in response.text


@pytest.mark.anyio
async def test_the_same_question_asked_at_once(aclient: AsyncZhikuClient) -> None:
    """Concurrent requests embed the same sentences at the same moment: all are answered."""
    async with aclient as zk:
        await zk.create_kb("kb")
        await zk.wait_for_job((await zk.upload("kb", [("sick.md", SICK.encode()), ("leave.md", ZH.encode())])).id)
        answers = await asyncio.gather(*[zk.ask("kb", "病假工资按什么比例发放？") for _ in range(8)])
        assert all(a.found and a.answer == answers[0].answer for a in answers)


def test_embedding_cache_tolerates_concurrent_writers(zk: Zhiku) -> None:
    """Requests and ingestion threads cache the same texts at the same time (was an IntegrityError)."""
    errors: list[BaseException] = []

    def embed() -> None:
        try:
            zk.cached_embedder("static").embed_passages([f"第{j}句：病假工资。" for j in range(300)], batch_size=16)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=embed) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
