"""The extractive answer reads a passage as a reader would (issue 17, item 2, third round): a
sentence with a parenthesis that holds semicolons is one sentence, a Chinese sentence that starts
with its verb ("是欧洲大陆唯一……") is quoted with the sentence that names its subject, and a question
that asks for a year is not answered with a day of the month."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytest

from zhiku import Zhiku
from zhiku.config import AnswerSettings
from zhiku.llm.extractive import ExtractiveAnswerer, SentenceWeights, _paren_joined
from zhiku.schema import Answer, AnswerRequest, Hit

AMAZON = """# Amazon rainforest

The Amazon rainforest (Portuguese: Floresta Amazônica or Amazônia; Spanish: Selva Amazónica, Amazonía or \
usually Amazonia; French: Forêt amazonienne; Dutch: Amazoneregenwoud), also known in English as Amazonia or \
the Amazon Jungle, is a moist broadleaf forest that covers most of the Amazon basin of South America. This \
basin encompasses seven million square kilometres, of which five and a half million square kilometres are \
covered by the rainforest.
"""

KALMYKIA = """# 卡尔梅克

卡尔梅克共和国是俄罗斯联邦主体之一，属南部联邦管区。是欧洲大陆唯一以佛教为主的地区。首府埃利斯塔，人口约二十八万。
"""


def _ask(app: Zhiku, question: str) -> Answer:
    return app.answer(AnswerRequest(mode="kb", kbs=["kb"], question=question, extractive=True))


@pytest.fixture
def kb(app: Zhiku, tmp_path: Path) -> Zhiku:
    (tmp_path / "amazon.md").write_text(AMAZON, encoding="utf-8")
    (tmp_path / "卡尔梅克.md").write_text(KALMYKIA, encoding="utf-8")
    app.create_kb("kb")
    assert app.add_files("kb", [tmp_path / "amazon.md", tmp_path / "卡尔梅克.md"]).ok
    return app


def test_a_parenthesis_with_semicolons_stays_in_its_sentence(kb: Zhiku) -> None:
    answer = _ask(kb, "What kind of forest is the Amazon rainforest?")
    assert answer.found and "is a moist broadleaf forest" in answer.answer
    assert "The Amazon rainforest (Portuguese: Floresta Amazônica or Amazônia; Spanish:" in answer.answer  # whole


def test_a_sentence_without_its_subject_brings_the_one_before(kb: Zhiku) -> None:
    answer = _ask(kb, "欧洲大陆唯一以佛教为主的地区位于何处？")
    assert answer.found and "是欧洲大陆唯一以佛教为主的地区" in answer.answer
    assert "卡尔梅克共和国是俄罗斯联邦主体之一" in answer.answer


def test_parenthesis_pieces_are_joined() -> None:
    assert _paren_joined(["A (b;", "c; d) e.", "F."]) == ["A (b; c; d) e.", "F."]
    assert _paren_joined(["甲（乙；", "丙）丁。", "戊。"]) == ["甲（乙；丙）丁。", "戊。"]
    assert _paren_joined(["A) stray close.", "B."]) == ["A) stray close.", "B."]  # a stray ")" opens nothing



KEARNEY = """Kearney Boulevard is named after the entrepreneur and millionaire M. Theo Kearney. Kearney \
Boulevard runs west from Fresno Street for about twenty miles to Kerman, California. Kearney Boulevard is a \
two-lane country road lined with tall palm trees for most of its length. To restore the image of the \
neighbourhood, the city council named a section of it Brookhaven."""


class _SameVector:
    """Every sentence as similar to the question as every other: the words alone decide."""

    def embed_passages(self, texts: Sequence[str]) -> tuple[np.ndarray, Any]:
        return np.ones((len(texts), 4), dtype=np.float32) / 2, None


@pytest.mark.parametrize("idf", [0.8, 0.0])
def test_the_words_few_sentences_share_weigh_most(idf: float) -> None:
    """Every sentence repeats the topic (Kearney Boulevard); the one that answers holds the rarer
    words of the question (image, section). Without the weighting the longest topic words win."""
    answerer = ExtractiveAnswerer(0.0, AnswerSettings(), lambda name: _SameVector(), lambda name: (0.0, 1.0),
                                  lambda name, q: np.ones(4, dtype=np.float32) / 2)
    answerer.weights = SentenceWeights(idf=idf)
    hit = Hit(kb="kb", file="kearney.md", file_id="f", page=None, section=None, chunk_id=1, score=1.0, text=KEARNEY)
    sentences = answerer._candidates([hit])
    answerer._score("To improve the image of the area, what was a section of Kearney Boulevard named?",
                    sentences, [hit], "e", np.ones(4, dtype=np.float32) / 2)
    lead = max(sentences, key=lambda s: s.score)
    assert ("Brookhaven" in lead.text) == (idf > 0)
