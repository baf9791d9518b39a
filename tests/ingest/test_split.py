"""The splitter: sizes, sentence boundaries, overlap, tables, code, offsets, pages."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

from zhiku.errors import InvalidInput
from zhiku.ingest.loaders.base import Block
from zhiku.ingest.split import ChunkDraft, document_text, split_blocks
from zhiku.text.sentences import split_sentences

ZH_SENTENCES = [
    "知识库问答系统把用户的文档切成小段。",
    "每一段都会被编入向量索引和全文索引！",
    "检索时，两路结果按分数融合后再交给回答模块？",
    "回答必须带上引用，指向原文的页码和段落；",
    "如果找不到相关内容，系统应当直接说不知道……",
    "他说：“这样用户才会信任答案。”",
]
ZH_TEXT = "".join(ZH_SENTENCES * 6)
EN_TEXT = (
    "Dr. Smith measured pi as 3.14 in the lab, e.g. with a ruler. The result was close. "
    "Was it exact? No! It was off by 0.0016; nobody minded. "
) * 8


def check(blocks: list[Block], chunks: list[ChunkDraft], size: int) -> str:
    """Invariants every caller relies on; returns the document text."""
    doc = document_text(blocks)
    assert chunks
    for c in chunks:
        assert c.text.strip(), "empty chunk"
        assert 0 <= c.start < c.end <= len(doc)
        body = doc[c.start : c.end]
        assert body in c.text
        if c.text != body:  # only a table continuation carries its header in front
            assert c.kind == "table" and c.text.endswith("\n" + body)
        if c.kind != "table":
            assert len(c.text) <= size
    return doc


def test_chinese_text_respects_size_and_sentences() -> None:
    blocks = [Block(ZH_TEXT)]
    chunks = split_blocks(blocks, chunk_size=100, chunk_overlap=0)
    check(blocks, chunks, 100)
    assert len(chunks) > 3
    for c in chunks:  # every sentence here is < 100 chars: no chunk may cut one
        assert c.text.endswith(("。", "！", "？", "；", "……", "”")), c.text
        assert c.text.startswith(tuple(s[:4] for s in ZH_SENTENCES)), c.text
    # nothing lost, nothing invented
    assert "".join(c.text for c in chunks) == ZH_TEXT


def test_closing_quote_stays_with_its_sentence() -> None:
    assert split_sentences("他说：“这样用户才会信任答案。”然后离开了。") == ["他说：“这样用户才会信任答案。”", "然后离开了。"]


def test_english_sentences_abbreviations_and_decimals() -> None:
    sents = split_sentences("Dr. Smith measured pi as 3.14, e.g. with a ruler. Was it exact? No! Done.")
    assert sents == ["Dr. Smith measured pi as 3.14, e.g. with a ruler.", "Was it exact?", "No!", "Done."]


def test_english_chunks_end_at_sentences() -> None:
    blocks = [Block(EN_TEXT)]
    chunks = split_blocks(blocks, chunk_size=150, chunk_overlap=0)
    check(blocks, chunks, 150)
    for c in chunks:
        assert c.text.endswith((".", "?", "!", ";")), c.text
        assert "3.1" not in c.text[-3:] and not c.text.endswith("e.g.")


def test_long_sentence_is_cut_at_clauses_then_hard() -> None:
    clauses = "，".join(f"第{i}个分句讲了一件事" for i in range(40)) + "。"
    blocks = [Block(clauses), Block("无标点" * 200)]
    chunks = split_blocks(blocks, chunk_size=80, chunk_overlap=0)
    check(blocks, chunks, 80)
    first = [c for c in chunks if c.end <= len(clauses)]
    assert all(c.text.endswith(("，", "。")) for c in first)


def test_overlap_repeats_whole_trailing_sentences() -> None:
    blocks = [Block(ZH_TEXT)]
    size, overlap = 120, 40
    chunks = split_blocks(blocks, chunk_size=size, chunk_overlap=overlap)
    doc = check(blocks, chunks, size)
    repeated = 0
    for a, b in pairwise(chunks):
        assert b.start <= a.end
        shared = doc[b.start : a.end].strip()
        if shared:
            repeated += 1
            assert len(shared) <= overlap
            assert b.start > a.start
            # it is whole sentences: it starts right after a sentence end
            assert doc[b.start - 1] in "。！？；…”"
    assert repeated >= len(chunks) - 2
    # without overlap consecutive chunks do not share text
    plain = split_blocks(blocks, chunk_size=size, chunk_overlap=0)
    assert all(b.start >= a.end for a, b in pairwise(plain))


def test_overlap_never_cuts_an_english_word() -> None:
    blocks = [Block(EN_TEXT)]
    chunks = split_blocks(blocks, chunk_size=200, chunk_overlap=60)
    doc = check(blocks, chunks, 200)
    assert any(b.start < a.end for a, b in pairwise(chunks))
    for c in chunks:
        assert c.start == 0 or not doc[c.start - 1].isalnum()


def test_small_blocks_are_packed_within_a_section_only() -> None:
    blocks = [
        Block("第一章", kind="heading", section=("第一章",)),
        Block("第一段很短。", section=("第一章",)),
        Block("第二段也很短。", section=("第一章",)),
        Block("第二章", kind="heading", section=("第二章",)),
        Block("另一节的内容。", section=("第二章",)),
    ]
    chunks = split_blocks(blocks, chunk_size=500)
    doc = check(blocks, chunks, 500)
    assert [c.text for c in chunks] == ["第一章\n\n第一段很短。\n\n第二段也很短。", "第二章\n\n另一节的内容。"]
    assert [c.section for c in chunks] == [("第一章",), ("第二章",)]
    assert all(doc[c.start : c.end] == c.text for c in chunks)


def test_subsections_share_a_chunk_with_the_common_section_path() -> None:
    blocks = [
        Block("Intro text.", section=("Guide", "Intro")),
        Block("Setup text.", section=("Guide", "Setup")),
    ]
    (chunk,) = split_blocks(blocks, chunk_size=500)
    assert chunk.section == ("Guide",)


def test_heading_moves_to_the_chunk_it_introduces() -> None:
    body = "这是正文的一句话。" * 10  # 90 chars
    blocks = [
        Block(body, section=("A",)),
        Block("小节标题", kind="heading", section=("A", "B")),
        Block(body, section=("A", "B")),
    ]
    chunks = split_blocks(blocks, chunk_size=100, chunk_overlap=0)
    check(blocks, chunks, 100)
    assert not chunks[0].text.endswith("小节标题")
    assert chunks[1].text.startswith("小节标题")
    assert chunks[1].section == ("A", "B")


def test_table_split_at_rows_with_header_repeated() -> None:
    header = "| 产品 | 价格 | 库存 |\n| --- | --- | --- |"
    rows = [f"| 产品{i:02d} | {i * 3}元 | {i} |" for i in range(60)]
    table = header + "\n" + "\n".join(rows)
    blocks = [Block(table, kind="table", section=("价目表",), meta={"sheet": "Sheet1", "rows": "2-61"})]
    chunks = split_blocks(blocks, chunk_size=200, chunk_overlap=50)
    check(blocks, chunks, 200)
    assert len(chunks) > 3
    seen = []
    for c in chunks:
        assert c.kind == "table"
        assert len(c.text) <= 200
        lines = c.text.split("\n")
        assert "\n".join(lines[:2]) == header
        for line in lines[2:]:
            assert line in rows  # whole rows only
        seen.extend(lines[2:])
        assert c.meta["sheet"] == "Sheet1"
        first, last = (int(x) for x in c.meta["rows"].split("-"))
        assert rows[first - 2] == lines[2] and rows[last - 2] == lines[-1]
    assert seen == rows  # every row once, in order, no overlap


def test_small_table_packs_with_its_text() -> None:
    blocks = [Block("价格如下：", section=("S",)), Block("| a | b |\n| - | - |\n| 1 | 2 |", kind="table", section=("S",))]
    (chunk,) = split_blocks(blocks, chunk_size=500)
    assert chunk.text == document_text(blocks)


def test_code_split_on_lines() -> None:
    code = "\n".join(f"def handler_{i}(request):\n    return respond(request, {i})\n" for i in range(30))
    blocks = [Block(code, kind="code")]
    chunks = split_blocks(blocks, chunk_size=150, chunk_overlap=30)
    doc = check(blocks, chunks, 150)
    lines = set(code.split("\n"))
    for c in chunks:
        assert c.kind == "code"
        assert all(line in lines for line in c.text.split("\n"))
        assert c.start == 0 or doc[c.start - 1] == "\n"
    assert sum(c.text.count("def ") for c in chunks) == 30  # no overlap in code


def test_offsets_point_at_the_text() -> None:
    blocks = [
        Block("标题", kind="heading", section=("标题",), page=1),
        Block(ZH_TEXT, section=("标题",), page=1),
        Block(EN_TEXT, section=("标题",), page=2),
        Block("   ", page=2),
        Block(ZH_TEXT, section=("标题",), page=3),
    ]
    chunks = split_blocks(blocks, chunk_size=300, chunk_overlap=60)
    doc = check(blocks, chunks, 300)
    for c in chunks:
        assert doc[c.start : c.end] == c.text
    # every non-blank character of the document is in some chunk
    covered = [False] * len(doc)
    for c in chunks:
        covered[c.start : c.end] = [True] * (c.end - c.start)
    assert all(covered[i] or doc[i].isspace() for i in range(len(doc)))


def test_pages_and_page_end() -> None:
    blocks = [
        Block("第一页的内容。" * 5, page=1),
        Block("第二页的内容。" * 5, page=2),
        Block("第三页的内容。" * 30, page=3),
    ]
    chunks = split_blocks(blocks, chunk_size=100, chunk_overlap=0)
    check(blocks, chunks, 100)
    # the first chunk starts on page 1 and runs into page 3 (filled up with page 3's first sentences)
    assert (chunks[0].page, chunks[0].page_end) == (1, 3)
    assert "第一页" in chunks[0].text and "第二页" in chunks[0].text and "第三页" in chunks[0].text
    assert all((c.page, c.page_end) == (3, 3) for c in chunks[1:])
    no_pages = split_blocks([Block("没有页码。")])
    assert (no_pages[0].page, no_pages[0].page_end) == (None, None)


def test_meta_is_merged() -> None:
    blocks = [
        Block("| h |\n| - |\n| 1 |", kind="table", meta={"sheet": "S", "rows": "2-2"}),
        Block("| h |\n| - |\n| 2 |", kind="table", meta={"sheet": "S", "rows": "3-3", "ocr": True}),
        Block("| h |\n| - |\n| 3 |", kind="table", meta={"sheet": "T", "rows": "2-2"}),
    ]
    chunks = split_blocks(blocks, chunk_size=500)
    assert [c.meta for c in chunks] == [{"sheet": "S", "rows": "2-3", "ocr": True}, {"sheet": "T", "rows": "2-2"}]


def test_title_enhance_prefixes_section_but_offsets_stay() -> None:
    blocks = [Block("正文内容。", section=("手册", "安装"))]
    (plain,) = split_blocks(blocks)
    (enhanced,) = split_blocks(blocks, title_enhance=True)
    assert enhanced.text == "手册 > 安装\n正文内容。"
    assert (enhanced.start, enhanced.end) == (plain.start, plain.end)
    assert document_text(blocks)[enhanced.start : enhanced.end] == "正文内容。"


def test_no_empty_chunks() -> None:
    assert split_blocks([]) == []
    assert split_blocks([Block(""), Block("  \n\n \t"), Block("\n")]) == []
    chunks = split_blocks([Block("\n\n一句。\n\n\n\n"), Block(""), Block("二句。")], chunk_size=5, chunk_overlap=0)
    assert [c.text for c in chunks] == ["一句。", "二句。"]


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(InvalidInput):
        split_blocks([Block("x")], chunk_size=0)
    with pytest.raises(InvalidInput):
        split_blocks([Block("x")], chunk_size=100, chunk_overlap=100)


@pytest.mark.parametrize("size", [20, 57, 200, 1000])
def test_random_mixed_document_invariants(size: int) -> None:
    import random

    rng = random.Random(size)
    pieces = ZH_SENTENCES + re.findall(r"[^.?!]+[.?!]", EN_TEXT) + ["\n", "\n\n", "，", " "]
    blocks = []
    for i in range(30):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 25)))
        kind = rng.choice(["text", "text", "heading", "code"])
        blocks.append(Block(text, kind=kind, page=i // 5 + 1, section=(f"S{i // 10}",)))
    chunks = split_blocks(blocks, chunk_size=size, chunk_overlap=size // 5)
    doc = check(blocks, chunks, size)
    for c in chunks:
        assert doc[c.start : c.end] == c.text
        assert c.page is not None and c.page <= c.page_end
        assert len({blocks[i].section[0] for i in range(len(blocks)) if blocks[i].text.strip()
                    and _overlaps(blocks, i, c)}) == 1


def _overlaps(blocks: list[Block], i: int, c: ChunkDraft) -> bool:
    start = sum(len(b.text) + 2 for b in blocks[:i])
    lo, hi = start, start + len(blocks[i].text)
    text = blocks[i].text
    lo += len(text) - len(text.lstrip())
    hi -= len(text) - len(text.rstrip())
    return lo < c.end and c.start < hi
