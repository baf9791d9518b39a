"""Normalisation and lexical tokens: what the BM25 index compares."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from zhiku.text.normalize import (
    detect_lang,
    lexical_tokens,
    normalize_for_match,
    stem_en,
)


def test_fullwidth_becomes_halfwidth() -> None:
    assert normalize_for_match("ＡＢＣ１２３，Ｐｙｔｈｏｎ！") == "abc123,python!"


def test_traditional_becomes_simplified() -> None:
    assert normalize_for_match("臺灣的軟體開發與頭髮") == "台湾的软体开发与头发"


def test_case_folding() -> None:
    assert normalize_for_match("Straße HELLO") == "strasse hello"


def test_normalisation_is_idempotent() -> None:
    once = normalize_for_match("ＡＢＣ 臺灣 Straße ﾃｽﾄ ⼀")
    assert normalize_for_match(once) == once


def test_kangxi_radicals_fold_to_ideographs() -> None:
    # Chrome-printed PDFs give Kangxi radicals (U+2F00..) instead of the ideographs
    assert normalize_for_match("\u2f00\u2f08") == "一人"


def test_tokens_of_mixed_text() -> None:
    toks = lexical_tokens("我们在2023年发布了 Zhiku 知识库系统，支持 BM25 检索。")
    assert "2023" in toks
    assert "zhiku" in toks
    assert "bm25" in toks
    assert "检索" in toks
    assert "发布" in toks
    # stopwords, punctuation and whitespace are gone
    for gone in ("的", "了", "在", "，", "。", " ", ""):
        assert gone not in toks


def test_tokens_carry_no_whitespace_or_punctuation() -> None:
    toks = lexical_tokens("Hello,  world!\n\t「你好」——（测试）... e-mail: a@b.c  ３.１４")
    assert toks
    for t in toks:
        assert t and not any(ch.isspace() for ch in t)
        assert any(ch.isalnum() for ch in t)
    assert "3.14" in toks


def test_traditional_and_simplified_give_the_same_tokens() -> None:
    assert lexical_tokens("東西莒還是用什麼交通工具互通？") == lexical_tokens("东西莒还是用什么交通工具互通？")


def test_english_stopwords_and_light_stemming() -> None:
    toks = lexical_tokens("The indexes of the Running dogs were created")
    assert "the" not in toks and "of" not in toks
    assert stem_en("indexes") == stem_en("index") == "index"
    assert stem_en("running") == stem_en("run") == "run"
    assert stem_en("created") == stem_en("create") == stem_en("creating")
    assert stem_en("cities") == stem_en("city")
    assert stem_en("class") == "class" and stem_en("analysis") == "analysis"
    assert toks == ["index", "run", "dog", stem_en("created")]


def test_question_words_do_not_weigh_in() -> None:
    assert lexical_tokens("什么是知识库？") == lexical_tokens("知识库")
    assert lexical_tokens("What is BM25?") == ["bm25"]


def test_detect_lang() -> None:
    assert detect_lang("知识库问答系统支持中文和英文。") == "zh"
    assert detect_lang("這是繁體中文的句子。") == "zh"
    assert detect_lang("A knowledge base question answering system.") == "en"
    assert detect_lang("使用 pip install zhiku 安装本系统") == "zh"
    # a Chinese name in an English paragraph does not make it Chinese
    assert detect_lang("The Great Wall (长城) is visited by millions of people from all over the world every year.") == "en"
    assert detect_lang("") == "en"
    assert detect_lang("12345 !!!") == "en"


def test_concurrent_first_use_is_safe() -> None:
    texts = ["臺灣的軟體開發", "知识库检索系统", "Running indexes"] * 8
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lexical_tokens, texts))
    assert results == [lexical_tokens(t) for t in texts]


@pytest.mark.slow
def test_jieba_is_quiet() -> None:
    """The first tokenisation must not spill jieba's "Building prefix dict" lines onto stderr."""
    code = "from zhiku.text.normalize import lexical_tokens; print(lexical_tokens('中文分词测试'))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "分词" in proc.stdout
    assert proc.stderr.strip() == ""
