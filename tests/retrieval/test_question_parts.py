"""A query that asks two questions one after another is searched as each question, and the
extractive answer quotes a sentence for each (issue 17, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku import Zhiku
from zhiku.schema import AnswerRequest
from zhiku.text.sentences import question_parts

DOCS = {
    "leave.md": "# 假期\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，每次不少于半天。\n",
    "travel.md": "# 报销\n\n差旅费用须在出差结束后三十日内提交报销申请，并附上发票原件。\n",
    **{f"noise-{i}.md": f"# 报销说明 {i}\n\n差旅报销常见问题第{i}条：差旅报销申请、报销审批、报销提交、差旅报销天数与报销查询。\n"
       for i in range(8)},
}


@pytest.mark.parametrize(("query", "parts"), [
    ("首批坦克何时运抵？费用是多少？", ["首批坦克何时运抵？", "费用是多少？"]),
    ("What is X? When was Y built?", ["What is X?", "When was Y built?"]),
    ("年假有几天？", ["年假有几天？"]), ("年假有几天", ["年假有几天"]),
    ("嗯？年假有几天？", ["嗯？年假有几天？"]), ("a?b?c?d?e?f?", ["a?b?c?d?e?f?"]),
])
def test_question_parts(query: str, parts: list[str]) -> None:
    assert question_parts(query) == parts


@pytest.fixture
def kb(app: Zhiku, tmp_path: Path) -> Zhiku:
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    app.create_kb("kb")
    assert app.add_files("kb", [tmp_path / n for n in DOCS]).ok
    return app


def test_each_question_finds_its_passage(kb: Zhiku) -> None:
    question = "年假有几天？差旅报销要在多少天内提交？"
    for mode in ("lexical", "hybrid"):
        hits = kb.search(["kb"], question, top_k=2, mode=mode)
        assert {h.file for h in hits} == {"leave.md", "travel.md"}, mode
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    answer = kb.answer(AnswerRequest(mode="kb", kbs=["kb"], question=question, extractive=True))
    assert answer.found and "十五天" in answer.answer and "三十日" in answer.answer
