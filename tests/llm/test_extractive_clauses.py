"""The extractive answer, fourth round (issue 17, item 2): a sentence cut at "；" is quoted whole, and
"三大…", "四类…" are counts that answer "how many"."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytest

from zhiku.config import AnswerSettings
from zhiku.llm.extractive import ExtractiveAnswerer, SentenceWeights
from zhiku.llm.question_types import offers
from zhiku.schema import Hit
from zhiku.text.normalize import normalize_for_match

PITTSBURGH = ("匹兹堡附近地区的煤矿和铁矿石蕴藏量丰富。二战期间，由于战争对钢铁的需求量猛增；"
              "匹兹堡进入钢铁工业发展的“黄金时期”。钢铁业的发展相继带动地区的经济发展。")


class _SameVector:
    """Every sentence as similar to the question as every other: the words and the type decide."""

    def embed_passages(self, texts: Sequence[str]) -> tuple[np.ndarray, Any]:
        return np.ones((len(texts), 4), dtype=np.float32) / 2, None


def _answer(text: str, question: str, sentences: int, **weights: Any) -> str:
    answerer = ExtractiveAnswerer(0.0, AnswerSettings(sentences=sentences), lambda name: _SameVector(),
                                  lambda name: (0.0, 1.0), lambda name, q: np.ones(4, dtype=np.float32) / 2)
    answerer.weights = SentenceWeights(**weights)
    hit = Hit(kb="kb", file="a.md", file_id="f", page=None, section=None, chunk_id=1, score=1.0, text=text,
              lexical_score=0.9)
    answer = answerer.answer(question, [hit], "e")
    assert answer.found
    return answer.answer


@pytest.mark.parametrize("clauses", [True, False])
def test_a_lead_cut_at_a_semicolon_brings_the_rest_of_its_sentence(clauses: bool) -> None:
    """The reason is in the clause before "；" and the question's words in the clause after it."""
    answer = _answer(PITTSBURGH, "为什么匹兹堡进入钢铁工业发展的黄金时期？", 1, clauses=clauses)
    assert "匹兹堡进入钢铁工业发展的“黄金时期”" in answer
    assert ("需求量猛增" in answer) == clauses


def test_a_number_with_da_or_lei_is_a_count() -> None:
    def check(sentence: str, counted: bool = True) -> bool:
        question = "有多少叶绿体谱系？"
        return offers("how_many", normalize_for_match(sentence), sentence, normalize_for_match(question), question,
                      counted)

    assert check("所有的原始叶绿体都属于三大叶绿体谱系之一。")
    assert check("这些细菌可分为四类。")
    assert not check("所有的原始叶绿体都属于三大叶绿体谱系之一。", counted=False)
    assert not check("叶绿体谱系中包括了陆生植物。")
    assert not check("他毕业于三大学院路的中学。")  # 大学, not a count


DUBAI = ("国际媒体中心是迪拜的另一项工程。它旨在建立一个世界级的媒体网络集中地。"
         "这项工程已于2003年启动，并预计在2006年全部完成。")


@pytest.mark.parametrize("reach", [2, 1])
def test_a_lead_without_the_asked_year_brings_the_next_sentence_that_holds_one(reach: int) -> None:
    """The lead names the project but no year; the year is two sentences on, not in the next one."""
    answer = _answer(DUBAI, "迪拜的国际媒体中心估计在哪一年完成？", 1, reach=reach)
    assert "国际媒体中心是迪拜的另一项工程" in answer
    assert ("2006年" in answer) == (reach == 2)


def test_quotes_of_two_passages_stand_apart_after_their_markers_in_chinese() -> None:
    """The second passage's quote starts after a space, not glued to the marker before it
    ("…申请。 [1] 报销…", not "[1]报销")."""
    answerer = ExtractiveAnswerer(0.0, AnswerSettings(sentences=3), lambda name: _SameVector(),
                                  lambda name: (0.0, 1.0), lambda name, q: np.ones(4, dtype=np.float32) / 2)
    texts = ["差旅费用须在出差结束后三十日内提交报销申请。", "报销申请须在三十日内提交给财务部。"]
    hits = [Hit(kb="kb", file=f"{i}.md", file_id=str(i), page=None, section=None, chunk_id=i, score=1.0, text=t,
                lexical_score=0.9) for i, t in enumerate(texts)]
    answer = answerer.answer("报销申请要在多少日内提交？", hits, "e")
    assert answer.found and len(answer.citations) == 2, answer.answer
    body = answer.answer.split("\n", 1)[1]
    assert body == "差旅费用须在出差结束后三十日内提交报销申请。 [1] 报销申请须在三十日内提交给财务部。 [2]", body
