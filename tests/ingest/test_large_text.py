"""Large text files are decoded and cleaned in blocks (so the server keeps answering while one
ingests): the result must be exactly what decoding the whole file at once gives."""

from __future__ import annotations

import codecs

from zhiku.ingest.loaders.encoding import BLOCK_BYTES, clean_text, decode_bytes

LINE = "知识库问答系统需要处理很大的上传文件。Uploads must never block other requests.\r\n"


def _big(encoding: str, blocks: int = 6) -> bytes:
    line = LINE.encode(encoding)
    return line * (blocks * BLOCK_BYTES // len(line) + 1)  # lines (and characters) straddle block ends


def test_large_utf8_file_decodes_and_cleans_like_a_small_one() -> None:
    data = _big("utf-8")
    text = clean_text(decode_bytes(data))
    assert text == data.decode("utf-8").replace("\r\n", "\n")
    assert "\r" not in text and "\n\n" not in text  # no \r\n torn in two at a block end


def test_a_character_cut_at_the_end_keeps_the_file_utf8() -> None:
    data = _big("utf-8")[:-1]  # the last character of "\r\n" is whole; cut a CJK one instead
    data = data[: data.rfind("。".encode()) + 2]  # 2 of the 3 bytes of 。
    text = decode_bytes(data)
    assert text.endswith("文件\ufffd") and "知识库" in text[:10]


def test_large_gb18030_file_is_detected_from_a_sample() -> None:
    data = _big("gb18030")
    assert decode_bytes(data) == data.decode("gb18030")


def test_decoding_and_cleaning_in_one_pass_gives_the_whole_file_cleaned() -> None:
    """read_text decodes and cleans block by block (one copy of a 200 MB text, not two): the text is
    the one cleaning the whole decoded file gives, whatever the encoding, with a \\r\\n torn at a block end."""
    torn = ("x" * (BLOCK_BYTES - 1) + "\r\n" + "中\x00文\ufeff\r" * BLOCK_BYTES).encode("utf-8")
    for data in (_big("utf-8"), _big("gb18030"), codecs.BOM_UTF8 + _big("utf-8"), _big("utf-16-le"), torn,
                 "short\r\ntext\x00".encode()):
        whole = clean_text(decode_bytes(data))
        assert decode_bytes(data, clean=True) == whole
    assert "\r" not in decode_bytes(torn, clean=True) and "\x00" not in decode_bytes(torn, clean=True)
