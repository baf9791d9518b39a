"""The refusal verdict reads a hit's sentences' words from the lexical tokens its knowledge base stores
(``zhiku.llm.relevance.Passage``, ``Retriever.stored_tokens``) instead of tokenising every sentence of
the first hits again for each question: the verdict must be the same as by tokenising, whatever the
stored tokens are (a KB's own, none, or tokens that are not the text's)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from zhiku import Zhiku
from zhiku.llm.relevance import Passage, best_relevance, relevance
from zhiku.schema import Hit
from zhiku.store.catalog_hits import hit_rows
from zhiku.text.normalize import detect_lang, lexical_tokens

from tests.conftest import shared_path

DOCS = {
    "leave.md": "# 假期制度\n\n入职满一年的员工享有十五天带薪年假。年假须提前一周申请，由部门经理审批。\n\n"
                "病假需提供医院证明。中国的法定节假日按国务院规定执行，中秋节放假一天。\n",
    "refunds.md": "# Refunds\n\nRefunds are paid within 14 days of receiving the returned item. Studies of "
                  "returns show 0.8% of items arrive damaged; damaged items are replaced.\n\n"
                  "The company was founded in 1998. It employs 250 people in Shanghai and Beijing.\n",
    "history.txt": "1931年1月，六屆四中全會在上海召開，會議由共產國際代表主持。周恩來此前曾在南昌領導起義。"
                   "後來他前往中央蘇區，繼續主持中央軍委的工作。\n",
    "table.md": "| 城市 | 人口 | 面积 |\n| --- | --- | --- |\n| 上海 | 2487万 | 6340平方公里 |\n"
                "| 北京 | 2189万 | 16410平方公里 |\n",
    "mixed.txt": "zhiku 支持 PostgreSQL 与 SQLite。The index uses HNSW graphs; 中文问题也能检索 English passages.\n"
                 "版本 2.1.3 发布于 2024年3月，修复了 17 个问题。\n",
}
QUESTIONS = [
    "入职满一年的员工有几天年假？", "年假有几天？", "中秋节放假几天？", "病假需要什么证明？",
    "How many days until refunds are paid?", "When was the company founded?", "What share of items arrive damaged?",
    "周恩来在哪里领导起义？", "1931年的全会在哪里召开？", "上海人口多少？", "北京面积是多少？",
    "退款在收到退货后几天内支付？", "公司在哪里有员工？", "Where did Zhou Enlai lead an uprising?",
    "zhiku 支持哪些数据库？", "版本 2.1.3 修复了多少个问题？", "What does the index use?",
    "年假须提前多久申请？谁审批？",  # two questions: each part judged
]


@pytest.fixture
def kb(app: Zhiku, tmp_path: Path) -> Zhiku:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    app.create_kb("kb")
    assert app.add_files("kb", [docs]).ok
    return app


def _units_tokens(text: str) -> list[str]:
    return [t for unit in Passage(text).units for t in lexical_tokens(unit)]


def test_a_chunks_stored_tokens_are_its_sentences_tokens_one_after_another(kb: Zhiku) -> None:
    """What the verdict relies on: ingestion stores ``lexical_tokens`` of the chunk's text, and those
    are its sentences' tokens in order (jieba never cuts across a sentence end)."""
    kb_id = kb.kb("kb").id
    ids = [int(i) for i in kb.catalog.chunk_ids_for_files(kb_id, [f.id for f in kb.catalog.list_files(kb_id, "indexed")])]
    rows = hit_rows(kb.catalog, ids)
    assert len(rows) == len(ids) >= len(DOCS)
    for row in rows.values():
        assert row.tokens.split() == lexical_tokens(row.text)
        if not row.text.lstrip().startswith("|"):  # a table's rows are made from its cells, not cut from its text
            assert row.tokens.split() == _units_tokens(row.text)


def test_dev_set_passages_are_their_sentences_tokens_one_after_another() -> None:
    from zhiku.evaluation import read_jsonl

    checked = 0
    for name in ("xquad_zh", "xquad_en", "drcd_dev", "crud_news_zh", "pubmedqa_labeled"):
        path = shared_path("data", "eval", name, "corpus.jsonl")
        rows = read_jsonl(path, ("id", "text"))
        for row in random.Random(7).sample(rows, min(60, len(rows))):
            assert lexical_tokens(row["text"]) == _units_tokens(row["text"]), row["id"]
            checked += 1
    assert checked >= 240


def test_the_verdict_with_the_stored_tokens_is_the_verdict_by_tokenising(kb: Zhiku) -> None:
    handle = kb.kb("kb")
    judged = 0
    for question in QUESTIONS:
        hits = kb.retriever.search([handle], question, 5)
        stored = kb.retriever.stored_tokens(hits)
        assert set(stored) == {h.text for h in hits}  # the search keeps every hit's tokens
        lang = detect_lang(question)
        Passage._recent.clear()
        tokenising = [relevance(lang, h, question) for h in hits]
        Passage._recent.clear()
        assert [relevance(lang, h, question, stored[h.text]) for h in hits] == tokenising
        Passage._recent.clear()
        assert best_relevance(lang, hits, question, stored) == best_relevance(lang, hits, question)
        judged += len(hits)
    assert judged >= 3 * len(QUESTIONS)


def _hit(text: str) -> Hit:
    return Hit(kb="kb", file="f.txt", file_id="1", page=None, section=None, chunk_id=1, score=0.5, text=text,
               dense_score=0.5, lexical_score=0.3)


def test_sentences_are_tokenised_only_where_the_stored_tokens_leave_a_word_in_doubt() -> None:
    text = "中国的首都是北京。北京有两千多万人口。上海位于长江入海口。"
    passage = Passage(text, " ".join(lexical_tokens(text)))
    held = passage.held(frozenset({"北京", "首都", "上海", "广州"}))
    assert held == [frozenset({"北京", "首都"}), frozenset({"北京"}), frozenset({"上海"})]
    assert passage.tokenised == 0  # each word's substrings were as many as its stored tokens
    # 中 is a token once (会议/中) and inside 中国 once: 中国's sentence is known, so is 中's
    text = "他在会议中发言。中国代表团出席了会议。"
    passage = Passage(text, " ".join(lexical_tokens(text)))
    assert passage.held(frozenset({"中", "中国", "会议"})) == [frozenset({"中", "会议"}), frozenset({"中国", "会议"})]
    assert passage.tokenised == 0
    # "he" is a token once, and inside "the" (a stopword, no token): which sentence holds the token is
    # in doubt, so the sentences holding the substring are tokenised to know
    text = "The cat sat on the mat. He left."
    passage = Passage(text, " ".join(lexical_tokens(text)))
    assert passage.held(frozenset({"he", "cat"})) == [frozenset({"cat"}), frozenset({"he"})]
    assert passage.tokenised == 2
    for question in ("会议中有几人缺席？", "中国代表团出席了什么？", "北京有多少人口？"):
        for text in ("他在会议中发言。中国代表团出席了会议。", "中国的首都是北京。北京有两千多万人口。"):
            Passage._recent.clear()
            assert relevance("zh", _hit(text), question, " ".join(lexical_tokens(text))) == \
                relevance("zh", _hit(text), question)


def test_stored_tokens_that_cannot_be_the_texts_give_the_verdict_by_tokenising() -> None:
    """A word stored more often than the text holds it shows the tokens are not this text's (a chunk
    edited behind the index's back): the sentences are tokenised, and the verdict is the usual one."""
    text = "Refunds are paid within 14 days. Damaged items are replaced."
    question = "How many days until refunds are paid?"
    Passage._recent.clear()
    right = relevance("en", _hit(text), question)
    Passage._recent.clear()
    assert relevance("en", _hit(text), question, "refund refund refund day day pay") == right


def test_a_hit_without_stored_tokens_is_judged_by_tokenising(kb: Zhiku) -> None:
    """Chunks whose tokens column is empty (a KB whose lexical index keeps no tokens there) are not
    handed to the verdict as stored tokens: it tokenises, as before."""
    from sqlalchemy import update

    from zhiku.store.db import chunks

    with kb.catalog.engine.begin() as conn:
        conn.execute(update(chunks).values(tokens=""))
    handle = kb.kb("kb")
    question = "入职满一年的员工有几天年假？"
    hits = kb.retriever.search([handle], question, 5, mode="dense")
    assert hits and kb.retriever.stored_tokens(hits) == {}
    Passage._recent.clear()
    assert best_relevance("zh", hits, question, kb.retriever.stored_tokens(hits)) == best_relevance("zh", hits, question)
