"""Context for the answer (zhiku.chat.context): a hit widened with its neighbouring chunks of the
same section within the budget, the overlap read once, citations still showing the passage found.
Real ingestion, real database, the real extractive answerer."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from zhiku import Zhiku
from zhiku.chat.context import ContextWidener, _join
from zhiku.config import load_settings

DOC = """# Aurora

The Aurora project was started by the city's university. It studies the northern lights over the lake.
The project was founded in 1998 by Dr. Lin Wei. Its first telescope stood on the old water tower.
Students from four faculties take part in the observations every winter.

# Budget

The budget of the observatory is paid by the province. It covers the telescopes and the heating.
"""


@pytest.fixture
def small(home: Path, tmp_path: Path) -> Iterator[Zhiku]:
    app = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"},
                                                    "ingest": {"chunk_size": 110, "chunk_overlap": 0}}, environ={}))
    app.create_kb("kb")
    doc = tmp_path / "aurora.md"
    doc.write_text(DOC, encoding="utf-8")
    assert app.add_files("kb", [doc]).ok
    yield app
    app.close()


def test_a_hit_is_widened_within_its_section_and_the_budget(small: Zhiku) -> None:
    kb = small.kb("kb")
    chunks = small.catalog.file_chunks(small.list_files("kb")[0].id)
    assert len(chunks) >= 4
    middle = next(c for c in chunks if "founded in 1998" in c.text)
    hit = next(h for h in small.search(["kb"], "founded 1998 Lin Wei", top_k=10) if h.chunk_id == middle.id)
    wide = ContextWidener(small.engine, 600).widen([hit])[0]
    assert wide.chunk_id == hit.chunk_id and middle.text in wide.text
    assert "northern lights" in wide.text and "four faculties" in wide.text  # both neighbours of its section
    assert "province" not in wide.text  # the next heading's section is not its context
    narrow = ContextWidener(small.engine, len(middle.text) + 10).widen([hit])[0]
    assert narrow.text == hit.text  # no neighbour fits the budget
    assert ContextWidener(small.engine, 0).widen([hit]) == [hit]  # off
    assert kb.chunks == len(chunks)


def test_the_overlap_between_chunks_is_read_once() -> None:
    assert _join("One sentence. Two sentence here.", "Two sentence here. Three.") == \
        "One sentence. Two sentence here. Three."
    assert _join("第一句话。第二句话在这里。", "第二句话在这里。第三句。") == "第一句话。第二句话在这里。第三句。"
    assert _join("No overlap.", "Next one.") == "No overlap.\nNext one."


def test_a_chunk_is_read_once_across_the_hits(small: Zhiku) -> None:
    hits = {h.chunk_id: h for h in small.search(["kb"], "Aurora project founded northern lights", top_k=10)}
    chunks = small.catalog.file_chunks(small.list_files("kb")[0].id)
    first, second = (hits[c.id] for c in chunks[:2])
    wide = ContextWidener(small.engine, 600).widen([first, second])
    assert "founded in 1998" not in wide[0].text  # the second chunk is a hit of its own: not repeated
    assert "four faculties" in wide[1].text and "northern lights" not in wide[1].text


def test_the_extractive_answer_reads_the_context_and_cites_the_passage_found(small: Zhiku) -> None:
    kb = small.kb("kb")
    chunks = small.catalog.file_chunks(small.list_files("kb")[0].id)
    question = "When was the Aurora project founded?"
    found = next(h for h in small.search(["kb"], question, top_k=10) if h.chunk_id == chunks[0].id)
    assert "1998" not in found.text  # the answer is in the next chunk
    answerer = small.answers.kb_chat.extractive
    narrow = ContextWidener(small.engine, 0).answer_extractively(answerer, question, [found], kb.embedder)
    assert "1998" not in narrow.answer
    answer = ContextWidener(small.engine, 600).answer_extractively(answerer, question, [found], kb.embedder)
    assert answer.found and "1998" in answer.answer
    assert [c.chunk_id for c in answer.citations] == [found.chunk_id]
    assert answer.citations[0].text == found.text  # the passage found, not the widened text
    chinese = ContextWidener(small.engine, 600, ["zh"]).answer_extractively(answerer, question, [found], kb.embedder)
    assert "1998" not in chinese.answer  # widened only for the languages it is set for
