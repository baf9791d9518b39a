"""Summaries of files and KBs (issue 19, item 2) with real parts: the static embedder, SQLite, and
a real OpenAI-compatible stand-in server over HTTP for the chat model's map-reduce."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from zhiku import Zhiku, load_settings
from zhiku.chat.summaries_extractive import central_sentences
from zhiku.errors import InvalidInput, NotFound
from zhiku.llm.base import estimate_tokens
from zhiku.store.db import summaries
from zhiku.testing.llm_servers import ChatServer

NO_MODEL = {"embedding": {"default": "static"}, "llm": {"default": None, "detect_local": False}}

TOPIC = [f"The tea harvest in Hangzhou depends on the spring weather of year {y}." for y in range(2001, 2013)]
ODD = ["Bicycles need oil.", "My neighbour owns a parrot called Blue that sings."]


def _app(home: Path, **overrides: Any) -> Zhiku:
    return Zhiku(load_settings(home=home, overrides={**NO_MODEL, **overrides}, environ={}))


@pytest.fixture
def plain(home: Path) -> Iterator[Zhiku]:
    with _app(home) as a:
        yield a


def _write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def _add(app: Zhiku, kb: str, folder: Path) -> None:
    assert app.add_files(kb, [folder]).ok


def test_central_sentences_leave_out_the_odd_ones() -> None:
    text = " ".join([TOPIC[0], ODD[0], *TOPIC[1:6], ODD[1], *TOPIC[6:]])
    picked = central_sentences([text], 3)
    assert len(picked) == 3 and all("tea harvest" in s for s in picked)
    assert picked == sorted(picked, key=text.index)  # in the order they appear


def test_extractive_summary_of_a_generated_file_is_labelled(plain: Zhiku, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    _write(docs, "wiki/tea.md", "# Tea\n\n" + " ".join([TOPIC[0], ODD[0], *TOPIC[1:], ODD[1]]) + "\n")
    plain.create_kb("notes")
    _add(plain, "notes", docs)
    s = plain.summaries.file("notes", "docs/wiki/tea.md")  # a name with folders
    assert s.kind == "extractive" and s.model is None and "extractive" in s.label
    assert s.file == "docs/wiki/tea.md" and s.text.count("tea harvest") == 3
    assert "parrot" not in s.text and "Bicycles" not in s.text
    assert plain.summaries.file("notes", s.file_id or "").text == s.text  # by id too, stored: the same
    kb = plain.summaries.of_kb("notes")
    assert kb.kind == "extractive" and kb.files == 1 and "tea harvest" in kb.text and "extractive" in kb.label
    with pytest.raises(NotFound):
        plain.summaries.file("notes", "docs/nothing.md")
    with pytest.raises(InvalidInput, match="no chat model"):
        plain.summaries.file("notes", s.file, refresh=True, model="gpt", extractive=True)


def test_summaries_refresh_when_a_file_changes_and_go_with_it(plain: Zhiku, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    f = _write(docs, "a.md", " ".join(TOPIC) + "\n")
    _write(docs, "b.md", "年假制度规定入职满一年的员工每年享有十五天带薪年假。年假可以分次休。年假未休完可以顺延。\n")
    plain.create_kb("kb", description="Tea and leave")
    _add(plain, "kb", docs)
    first = plain.summaries.file("kb", "docs/a.md")
    kb_first = plain.summaries.of_kb("kb")
    assert "Tea and leave" in kb_first.text and kb_first.files == 2
    assert plain.summaries.file("kb", "docs/a.md").created_at == first.created_at  # fresh: kept
    f.write_text(" ".join(s.replace("tea", "coffee") for s in TOPIC) + "\n", encoding="utf-8")
    _add(plain, "kb", docs)  # the changed file replaces the old one
    second = plain.summaries.file("kb", "docs/a.md")
    assert "coffee" in second.text and "tea harvest" not in second.text and second.file_id != first.file_id
    kb_second = plain.summaries.of_kb("kb")
    assert kb_second.created_at > kb_first.created_at and "coffee" in kb_second.text
    # a chunk edit makes the file's summary stale too
    record, chunks = plain.file_chunks("kb", "docs/a.md")
    for c in chunks:
        plain.edit_chunk("kb", c.id, f"Oolong grows on the cliffs of Wuyi mountain, said the oolong garden {c.id}.")
    assert [x.stale for x in plain.summaries.listed("kb") if x.file == "docs/a.md"] == [True]  # listed, not made
    edited = plain.summaries.file("kb", "docs/a.md")
    assert edited.created_at > second.created_at and "Oolong" in edited.text and "coffee" not in edited.text
    plain.remove_files("kb", ["docs/a.md"])
    with plain.engine.connect() as conn:
        left = conn.execute(summaries.select().where(summaries.c.file_id == record.id)).fetchall()
    assert left == []  # gone with its file
    assert plain.summaries.of_kb("kb").files == 1


# -- a chat model's summary: map-reduce within its context, over real HTTP -------------------
def _reply(body: dict[str, Any]) -> str:
    user = body["messages"][-1]["content"]
    if "summaries of the parts" in user:
        return "FINAL: " + " + ".join(sorted(set(re.findall(r"PART-\d+", user))))
    if user.startswith("Summarise the file"):
        return "WHOLE"
    if "description of the knowledge base" in user:
        return "KB SUMMARY"
    n = re.search(r"This is part (\d+) of", user)
    return f"PART-{n.group(1) if n else 'x'}"


@pytest.fixture
def llm_app(home: Path) -> Iterator[tuple[Zhiku, ChatServer]]:
    with ChatServer(reply=_reply, models=("ok",)) as server:
        models = {"small": {"base_url": server.base_url, "model": "ok", "context_window": 256, "max_tokens": 64}}
        with _app(home, llm={"default": "small", "detect_local": False, "models": models}) as a:
            yield a, server


def test_llm_summary_map_reduces_a_file_larger_than_the_context(llm_app: tuple[Zhiku, ChatServer],
                                                                tmp_path: Path) -> None:
    app, server = llm_app
    docs = tmp_path / "docs"
    paragraphs = [f"## Part {i}\n\n" + " ".join(TOPIC) for i in range(6)]  # about 6 x 200 tokens
    _write(docs, "long.md", "\n\n".join(paragraphs) + "\n")
    _write(docs, "short.md", "Bicycles need oil every month.\n")
    app.create_kb("kb")
    _add(app, "kb", docs)
    s = app.summaries.file("kb", "docs/long.md")
    assert s.kind == "llm" and s.model == "small" and "small" in s.label
    calls = [r["messages"] for r in server.requests]
    parts = [m for m in calls if "This is part" in m[-1]["content"]]
    assert len(parts) >= 3 and s.text.startswith("FINAL: ")  # every part's summary reached the final one
    assert set(re.findall(r"PART-\d+", s.text)) == {f"PART-{i}" for i in range(1, len(parts) + 1)}
    for messages in calls:  # every call within the model's context window, with room for its reply
        prompt = sum(estimate_tokens(m["content"]) for m in messages)
        assert prompt + 64 <= 256, prompt
    assert all(r["max_tokens"] <= 64 for r in server.requests)
    short = app.summaries.file("kb", "docs/short.md")
    assert short.text == "WHOLE"  # fits one call: summarised in one call
    n = len(server.requests)
    assert app.summaries.file("kb", "docs/long.md").text == s.text and len(server.requests) == n  # stored
    kb = app.summaries.of_kb("kb")
    assert kb.kind == "llm" and kb.text == "KB SUMMARY" and kb.files == 2
    extractive = app.summaries.file("kb", "docs/long.md", refresh=True, extractive=True)
    assert extractive.kind == "extractive" and "tea harvest" in extractive.text and len(server.requests) == n + 1


def test_cli_kb_summary(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIKU_LLM__DETECT_LOCAL", "false")  # no chat model: an extractive summary
    docs = tmp_path / "docs"
    _write(docs, "wiki/tea.md", " ".join([TOPIC[0], ODD[0], *TOPIC[1:]]) + "\n")
    assert cli("kb", "create", "notes", "-d", "Notes on tea").code == 0
    assert cli("kb", "add", "notes", str(docs)).code == 0
    r = cli("kb", "summary", "notes", "docs/wiki/tea.md")
    assert r.code == 0 and "extractive summary" in r.out and "tea harvest" in r.out and "Bicycles" not in r.out
    r = cli("kb", "summary", "notes", "--refresh", "--json")
    assert r.code == 0 and '"kind": "extractive"' in r.out and "Notes on tea" in r.out and '"files": 1' in r.out
    r = cli("kb", "summary", "notes", "docs/none.md")
    assert r.code != 0 and "no file 'docs/none.md'" in (r.err + r.out)


def test_summaries_and_kb_questions_on_postgresql(home: Path, tmp_path: Path, postgres_url: str) -> None:
    """The same on PostgreSQL (its own migration, the mention count's case-insensitive match)."""
    from zhiku.schema import AnswerRequest

    docs = tmp_path / "docs"
    _write(docs, "tea.md", " ".join(TOPIC) + "\n")
    _write(docs, "bikes.md", "Bicycles need oil. TEA is not good for chains.\n")
    _write(docs, "leave.md", "年假制度规定入职满一年的员工每年享有十五天带薪年假。\n")
    overrides = {"database_url": postgres_url, "index": {"vector": "pgvector", "lexical": "pg_bm25"}}
    with _app(home, **overrides) as app:
        app.create_kb("kb")
        _add(app, "kb", docs)
        assert "tea harvest" in app.summaries.file("kb", "docs/tea.md").text
        answer = app.answer(AnswerRequest(mode="kb", kbs=["kb"], question="How many files mention tea?"))
        assert "2 of the 3 files" in answer.answer
        assert sorted(c.file for c in answer.citations) == ["docs/bikes.md", "docs/tea.md"]
        assert app.summaries.of_kb("kb").files == 3
        app.remove_files("kb", ["docs/tea.md"])
        assert [s.file for s in app.summaries.listed("kb")] == ["docs/bikes.md", "docs/leave.md"]
