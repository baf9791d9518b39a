"""The KB-level question classifier: questions about the KB itself, in Chinese and English, are told
apart from questions about its content (which must go on to the search)."""

from __future__ import annotations

import pytest

from zhiku.chat.kb_questions import KBQuestion, kb_question


@pytest.mark.parametrize("question, kind, term", [
    ("How many files mention refunds?", "count_mention", "refunds"),
    ("How many files mention “tea” in this knowledge base?", "count_mention", "tea"),
    ("Which documents are about refunds in the KB?", "which_files", "refunds"),
    ("how many documents in this knowledge base mention “Paris”?", "count_mention", "Paris"),
    ("How many docs contain the word 'leave'", "count_mention", "leave"),
    ("Which files are about annual leave?", "which_files", "annual leave"),
    ("What documents discuss the travel policy?", "which_files", "the travel policy"),
    ("What is in this KB?", "overview", ""),
    ("what's in the knowledge base", "overview", ""),
    ("Summarize this knowledge base.", "overview", ""),
    ("How many files are in this KB?", "count_files", ""),
    ("list the files", "list_files", ""),
    ("有多少文件提到年假？", "count_mention", "年假"),
    ("知识库里有几个文件提到“病假”", "count_mention", "病假"),
    ("年假在几个文件里出现过？", "count_mention", "年假"),
    ("哪些文件是关于报销的？", "which_files", "报销"),
    ("哪个文件讲了退款", "which_files", "退款"),
    ("这个知识库里有什么？", "overview", ""),
    ("这个知识库里有什么内容呢", "overview", ""),
    ("这个知识库是关于什么的", "overview", ""),
    ("总结一下这个知识库", "overview", ""),
    ("知识库里一共有多少个文件？", "count_files", ""),
    ("列出所有文件", "list_files", ""),
])
def test_questions_about_the_kb(question: str, kind: str, term: str) -> None:
    assert kb_question(question) == KBQuestion(kind, term)  # type: ignore[arg-type]


@pytest.mark.parametrize("question", [
    "How many days of annual leave do I get?", "What is the capital of France?", "how many people live in Paris",
    "Which file formats are supported by Word?", "How many tackles did Luke Kuechly register?",
    "年假有几天？", "哪些员工可以休年假？", "什么文件需要盖章？", "报销需要哪些材料？", "这个文件里说年假有几天？",
    "How many files mention refunds?\nAnd what do they say about shipping?", "",
])
def test_questions_about_the_content_go_on_to_the_search(question: str) -> None:
    assert kb_question(question) is None
