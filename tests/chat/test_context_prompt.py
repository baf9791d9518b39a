"""Context in a chat model's prompt (zhiku.chat.context, ``answer.prompt_context_*``): the source a
model reads is the passage found with its neighbouring chunks of the same section, within the
prompt's token budget, while the citation shows the exact passage found. A real OpenAI-compatible
stand-in server records the prompt it received; real ingestion, real database, the full pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from zhiku import Zhiku
from zhiku.chat.context import ContextWidener
from zhiku.config import load_settings
from zhiku.schema import AnswerRequest
from zhiku.testing.llm_servers import ChatServer

DOC = """# Aurora

The Aurora project was started by the city's university. It studies the northern lights over the lake.
The project was founded in 1998 by Dr. Lin Wei. Its first telescope stood on the old water tower.
Students from four faculties take part in the observations every winter.

# Budget

The budget of the observatory is paid by the province. It covers the telescopes and the heating.
"""


def _reply(body: dict[str, Any]) -> str:
    prompt = body["messages"][-1]["content"]
    return "It was founded in 1998 [1]." if "1998" in prompt else "The sources do not say [1]."


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer(reply=_reply) as s:
        yield s


def _app(home: Path, docs: Path, server: ChatServer, window: int = 4096, **answer: Any) -> Zhiku:
    app = Zhiku(load_settings(home=home, environ={}, overrides={
        "embedding": {"default": "static"}, "ingest": {"chunk_size": 110, "chunk_overlap": 0},
        "answer": {"passages": 1, **answer},  # the answer reads top_k passages, at least answer.passages
        "llm": {"default": "test", "detect_local": False, "grounding": "lenient",
                "models": {"test": {"base_url": server.base_url, "model": "ok", "context_window": window,
                                    "max_tokens": 64}}}}))
    app.create_kb("kb")
    assert app.add_files("kb", [docs]).ok
    return app


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    path = tmp_path / "aurora.md"
    path.write_text(DOC, encoding="utf-8")
    return path


QUESTION = "What does the Aurora project of the university study?"


def _ask(app: Zhiku, server: ChatServer) -> tuple[str, Any]:
    answer = app.answer(AnswerRequest(mode="kb", kbs=["kb"], question=QUESTION, top_k=1))
    return server.requests[-1]["messages"][-1]["content"], answer


def test_the_model_reads_the_neighbouring_chunks_and_the_citation_is_the_passage_found(
        home: Path, tmp_path: Path, docs: Path, server: ChatServer) -> None:
    with _app(home / "on", docs, server, prompt_context_chars=600, prompt_context_langs=["en"]) as app:
        chunks = app.catalog.file_chunks(app.list_files("kb")[0].id)
        first = next(c for c in chunks if "northern lights" in c.text)
        assert "1998" not in first.text  # the answer is in the next chunk
        prompt, answer = _ask(app, server)
        assert [c.chunk_id for c in answer.citations] == [first.id]  # the passage found for the question
        assert "northern lights" in prompt and "1998" in prompt  # ...read with its neighbour of the same section
        assert "province" not in prompt  # the next heading's section is not its context
        assert answer.citations[0].text == first.text  # the citation shows the exact passage
        assert "1998" in answer.answer
    with _app(home / "off", docs, server, prompt_context_chars=0, prompt_context_langs=["en"]) as app:
        prompt, answer = _ask(app, server)
        assert "northern lights" in prompt and "1998" not in prompt  # off: the passage found only
        assert "1998" not in answer.answer
    with _app(home / "zh", docs, server, prompt_context_chars=600, prompt_context_langs=["zh"]) as app:
        prompt, _ = _ask(app, server)
        assert "1998" not in prompt  # widened only for the languages it is set for


LONG = "# Lake\n\n" + "\n".join(
    f"In winter {y} the lake froze early and the observers counted {y % 97} clear nights of aurora." for y in range(1990, 2010))


def test_context_never_costs_a_source_the_prompt_would_hold(home: Path, tmp_path: Path, server: ChatServer) -> None:
    lake = tmp_path / "lake.md"
    lake.write_text(LONG, encoding="utf-8")
    question = AnswerRequest(mode="kb", kbs=["kb"], question="How many clear nights in winter 2001?", top_k=2)
    with _app(home / "plain", lake, server, window=400, prompt_context_chars=0) as app:
        answer = app.answer(question)
        plain = server.requests[-1]["messages"][-1]["content"]
        assert answer.dropped_sources == 0 and len(answer.citations) >= 1
    with _app(home / "tight", lake, server, window=400, prompt_context_chars=3000, prompt_context_langs=["en"]) as app:
        model = app.chat_models.get("test")
        hits = app.search(["kb"], question.question, top_k=2)
        wide = ContextWidener(app.engine, 3000).widen(hits)
        assert sum(model.count_tokens(h.text) for h in wide) > 400  # the whole context would not fit
        answer = app.answer(question)
        tight = server.requests[-1]["messages"][-1]["content"]
        assert answer.dropped_sources == 0  # widening dropped no source the plain prompt held
        assert model.count_tokens(tight) <= 400 - 64  # within the window, the reply's room kept
        for h in hits:  # every passage of the plain prompt is still there, whole
            assert h.text.strip() in plain and h.text.strip() in tight
        assert tight.count("In winter") > plain.count("In winter")  # as much context as fits
