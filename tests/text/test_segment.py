"""zhiku's segmenter gives jieba's precise-mode tokens (``jieba.lcut``, HMM on) from a compact copy of
jieba's dictionary: same tokens on real text, on edge cases and on a dictionary with duplicates,
frequency-0 entries and long words; its cache is used and a damaged one is rebuilt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from zhiku.text import segment
from zhiku.text.normalize import normalize_for_match

SHARED_EVAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "eval"

EDGE_CASES = [
    "", " ", "\r\n", "\t \u3000", "。！？", "\x00年假\x00", "😀年假😀", "𠀀𠀁年假",
    "中华人民共和国中央人民政府", "中华人民共和国国务院总理", "北京大学生前来应聘",
    "iphone13promax好用吗", "c++和c#和.net", "3.5%的增长率-同比", "abc123def",
    "工信处女干事每月经过下属科室都要亲口交代24口交换机等技术性器件的安装工作",
    "入职满一年的员工有十五天年假。", "結合男女", "韩冰", "他来到了网易杭研大厦",
    "小明硕士毕业于中国科学院计算所，后在日本京都大学深造",
    "我爱北京天安门" * 30, "的" * 50, "a" * 70, "年" * 17,
    "Deployment: run `zhiku start --port 7861`, then open http://127.0.0.1:7861/ 。",
]


@pytest.fixture(scope="module")
def jieba() -> Any:
    jieba = segment._import_jieba()
    jieba.initialize()
    return jieba


@pytest.fixture(scope="module")
def seg() -> segment.Segmenter:
    return segment.load()


def test_edge_cases_match_jieba(jieba: Any, seg: segment.Segmenter) -> None:
    for text in EDGE_CASES:
        for form in (text, normalize_for_match(text)):
            assert seg.cut(form) == jieba.lcut(form), form


@pytest.mark.shared
def test_every_dev_set_question_and_passages_match_jieba(jieba: Any, seg: segment.Segmenter) -> None:
    if not SHARED_EVAL.is_dir():
        pytest.skip(f"../shared not present ({SHARED_EVAL}): shared-data test skipped")
    texts: list[str] = []
    for folder in sorted(p for p in SHARED_EVAL.iterdir() if (p / "queries.jsonl").exists()):
        queries = [json.loads(line) for line in (folder / "queries.jsonl").open(encoding="utf-8")]
        texts += [q["question"] for q in queries]
        passages = [json.loads(line)["text"] for line in (folder / "corpus.jsonl").open(encoding="utf-8")]
        texts += passages[::7]  # every 7th passage of every set: thousands of sentences
    assert len(texts) > 2000
    for text in texts:
        for form in (text, normalize_for_match(text)):
            assert seg.cut(form) == jieba.lcut(form), form[:200]


def test_a_dictionary_with_duplicates_zero_counts_and_long_words(tmp_path: Path, jieba: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Read as jieba reads it: the last line of a word wins, a word with count 0 is no word (only
    a prefix), every line counts towards the total, and words longer than four characters join in."""
    lines = ["年假 30 n", "年 10", "假 5", "天 8", "十五 12", "十五天 0", "员工 40", "入职 25", "一年 9",
             "满 3", "员 2", "工 2", "有 20", "十 6", "五 6", "一 7", "入 1", "职 1",
             "员工有十五天年假 2", "员工有十五 1", "年假 4", "ab 3", "c++ 5", "十五天年 0"]
    small = tmp_path / "small.txt"
    small.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ours = segment.load(small)
    theirs = jieba.Tokenizer(dictionary=str(small))
    theirs.tmp_dir = str(tmp_path)
    for text in ["入职满一年的员工有十五天年假。", "员工有十五天年假", "十五天年", "ab c++ abc", "满满满满",
                 "年年假假年假年", "一十五天年假员工有十五"]:
        assert ours.cut(text) == theirs.lcut(text), text


def test_the_cache_is_used_and_a_damaged_one_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = tmp_path / "small.txt"
    small.write_text("年假 30\n员工 40\n十五天 6\n", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = segment.load(small).cut("员工有十五天年假")
    cached = list((tmp_path / "cache" / "zhiku").glob("segment-*.npz"))
    assert len(cached) == 1
    assert segment.load(small).cut("员工有十五天年假") == first == ["员工", "有", "十五天", "年假"]
    cached[0].write_bytes(b"not an npz")
    assert segment.load(small).cut("员工有十五天年假") == first


def test_lexical_tokens_do_not_load_jiebas_own_dictionary() -> None:
    """What the server holds is the compact copy: jieba's ~60 MB dict of words and prefixes is never built."""
    code = ("import jieba\n"
            "from zhiku.text.normalize import lexical_tokens\n"
            "tokens = lexical_tokens('入职满一年的员工有十五天年假')\n"
            "assert not jieba.dt.initialized and not jieba.dt.FREQ\n"
            "assert tokens == [t for t in jieba.lcut('入职满一年的员工有十五天年假') if t != '的'], tokens\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
