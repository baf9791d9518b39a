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


def test_the_index_built_once_is_read_back_from_the_disk_cache(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A later process reads the built index (2–3 s to build) from ``~/.cache/zhiku``; what it reads
    is the index itself, and a cache file cut short is built again, not trusted."""
    import os
    import time

    from zhiku.text import bridge, disk_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(bridge, "_index", None)
    built = bridge._build()
    first = bridge._cached()  # nothing cached yet: built and written
    assert first == built
    (cached,) = (tmp_path / "zhiku").glob("bridge-*.tsv")
    assert cached.read_text(encoding="utf-8").endswith("\n#end\n")
    monkeypatch.setattr(bridge, "_build", lambda: {"不会": "built again"})
    assert bridge._cached() == built  # read back, not built
    cached.write_text(cached.read_text(encoding="utf-8")[:1000], encoding="utf-8")  # torn
    assert bridge._cached() == {"不会": "built again"}
    # a cached index no process read for STALE_DAYS goes when another is written
    stale = tmp_path / "zhiku" / "bridge-1-2-old.tsv"
    stale.write_text("#end\n")
    os.utime(stale, (time.time() - (disk_cache.STALE_DAYS + 1) * 86400,) * 2)
    cached.unlink()
    bridge._cached()
    assert not stale.exists() and cached.exists()


def test_an_unwritable_cache_still_gives_the_index(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from zhiku.text import bridge

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setattr(bridge.disk_cache, "folders", lambda: [blocked / "zhiku"])
    monkeypatch.setattr(bridge, "_build", lambda: {"猫": "cat"})
    assert bridge._cached() == {"猫": "cat"}
