"""The zh↔en word bridge (CC-CEDICT glosses, ``zhiku.text.bridge``): a Chinese word's meaning in
the form English text's ``lexical_tokens`` take, so the two can be compared."""

from __future__ import annotations

from zhiku.text.bridge import available, gloss_pieces, glossed, held_share
from zhiku.text.normalize import lexical_tokens


def test_a_chinese_word_is_found_in_english_text_through_its_glosses() -> None:
    english = set(lexical_tokens("Tesla immigrated to the United States; his cats stayed in Europe."))
    for word in ("猫", "移民", "美国", "特斯拉"):
        assert held_share(word, english) == 1.0, word
    assert held_share("量子", english) == 0.0
    assert held_share("动力学", english) == 0.0


def test_an_abbreviation_is_glossed_by_what_it_stands_for() -> None:
    """CC-CEDICT writes 中共 as "abbr. for 中国共产党, Chinese Communist Party"."""
    assert held_share("中共", set(lexical_tokens("the Chinese Communist Party"))) == 1.0


def test_a_word_the_dictionary_lacks_counts_by_the_share_of_its_pieces_found() -> None:
    assert len(gloss_pieces("渐近自由")) == 2  # 渐近 + 自由
    assert held_share("渐近自由", set(lexical_tokens("freedom of speech"))) == 0.5


def test_latin_words_and_numbers_stand_for_themselves() -> None:
    assert gloss_pieces("1884") == [frozenset({"1884"})]
    assert held_share("1884", {"1884"}) == 1.0


def test_a_chinese_sentence_glossed_holds_an_english_questions_words() -> None:
    words = glossed(set(lexical_tokens("1884年，特斯拉移民到美国，在爱迪生的公司工作。")))
    assert {"tesla", "edison", "company", "1884"} <= words
    assert set(lexical_tokens("immigrated")) <= words  # stemmed alike on both sides
    assert "cat" not in words
    assert available()
