"""Turning the bytes of a text file into ``str``, whatever its encoding.

Order of evidence: a BOM; the NUL-byte pattern of UTF-16/UTF-32 written without a
BOM; strict UTF-8; then charset-normalizer. Short GBK text is often mistaken for
Korean (cp949) by statistical detectors, and Latin text for cp1250, so among the
equally plausible guesses we prefer GB18030 (a superset of GBK/GB2312) when the
bytes are shaped like GB2312, then cp1252 when the text reads as Western text in it.
"""

from __future__ import annotations

import codecs
import logging
import re
import time

log = logging.getLogger(__name__)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: FF FE 00 00 starts with FF FE
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "hz", "euc_cn", "gb_2312_80"}
_ALLOWED_CONTROLS = set("\t\n\r\f\v\x1b")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufeff\u200b]")


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """The encoding a byte-order mark announces, and the BOM's length."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return enc, len(bom)
    return None


def wide_encoding(data: bytes) -> str | None:
    """UTF-16/32 without a BOM, recognised by where the NUL bytes fall."""
    sample = data[:8192]
    if b"\x00" not in sample or len(sample) < 4:
        return None
    s4 = sample[: len(sample) - len(sample) % 4]
    quads = len(s4) // 4
    if quads >= 2:
        z = [s4[i::4].count(0) for i in range(4)]
        # BMP text in UTF-32 has two NUL bytes in every code unit
        if z[2] >= 0.95 * quads and z[3] >= 0.95 * quads and z[0] < 0.5 * quads:
            return "utf-32-le"
        if z[0] >= 0.95 * quads and z[1] >= 0.95 * quads and z[3] < 0.5 * quads:
            return "utf-32-be"
    s2 = sample[: len(sample) - len(sample) % 2]
    even, odd = s2[0::2].count(0), s2[1::2].count(0)
    total = even + odd
    if total >= 2 and odd >= 0.9 * total:
        return "utf-16-le"
    if total >= 2 and even >= 0.9 * total:
        return "utf-16-be"
    return None


def _control_ratio(text: str, replacements: bool = True) -> float:
    """The share of control characters (and of U+FFFD, a byte that did not decode, unless
    ``replacements`` is False: text decoded strictly holds U+FFFD only where its bytes say so)."""
    if not text:
        return 0.0
    bad = sum(
        1
        for ch in text
        if (ch < " " and ch not in _ALLOWED_CONTROLS) or (replacements and ch == "\ufffd") or ch == "\x7f"
    )
    return bad / len(text)


def _gb2312_shaped(data: bytes) -> bool:
    """Whether the non-ASCII bytes pair up as GB2312 (both bytes in A1-FE)."""
    pairs = good = 0
    i, n = 0, min(len(data), 65536)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        pairs += 1
        if 0xA1 <= b <= 0xFE and i + 1 < len(data) and 0xA1 <= data[i + 1] <= 0xFE:
            good += 1
        i += 2
    return pairs > 0 and good >= 0.9 * pairs


_LATIN_PREFIXES = ("cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin", "iso8859", "mac_",
                   "hp_roman8", "cp850", "cp858")
_LATIN_SYMBOLS = set("€£¥¢©®™°±«»–—‘’‚“”„…·§¶×÷¿¡•µ\xa0")


def _plausible_cp1252(data: bytes) -> bool:
    """Whether the bytes read as Western text in cp1252: every non-ASCII char a letter
    or a common symbol (Central European cp1250 text gives "¹", "³"... and fails)."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return all(ch.isalpha() or ch in _LATIN_SYMBOLS for ch in text if ord(ch) > 127)


def _detect(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    results = list(from_bytes(data))
    if not results:
        return None
    best_chaos = min(r.chaos for r in results)
    tied = [r for r in results if r.chaos <= best_chaos + 0.01]
    names = [r.encoding.lower() for r in tied]
    if any(n in _GB_FAMILY for n in names) and _gb2312_shaped(data):
        return "gb18030"
    if any(n.startswith(_LATIN_PREFIXES) for n in names) and _plausible_cp1252(data):
        return "cp1252"
    enc = max(tied, key=lambda r: r.coherence).encoding.lower()
    return "gb18030" if enc in _GB_FAMILY else enc


# Files larger than this are decoded and cleaned in blocks of this size, giving other threads (the
# API's requests) the interpreter between blocks: one C call over a 200 MB file holds it for seconds.
BLOCK_BYTES = 1 << 18
# charset-normalizer reads this much of a large file to guess its encoding (it is slow on whole files)
DETECT_SAMPLE = 4 << 20


def decode_bytes(data: bytes, clean: bool = False) -> str:
    """Decode the bytes of a text file; never raises. ``clean``: and :func:`clean_text` it, block by
    block as it is decoded (one copy of a large file's text is made, not two: building each held the
    interpreter, and every request of the server, for ~0.2 s at 200 MB).

    Undecodable bytes (only possible when every guess fails) become U+FFFD.
    """
    found = bom_encoding(data)
    if found:
        enc, skip = found
        return _decode(data, enc, skip, errors="replace", clean=clean)
    wide = wide_encoding(data)
    if wide:
        try:
            text = _decode(data, wide)  # judged before cleaning: a wrong guess shows as control characters
            if _control_ratio(text[:4096]) < 0.01:
                return clean_text(text) if clean else text
        except UnicodeDecodeError:
            pass
    try:
        return _decode(data, "utf-8", clean=clean)
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3:  # only a character cut off at the very end
            return _decode(data, "utf-8", errors="replace", clean=clean)
    detected = _detect(data if len(data) <= DETECT_SAMPLE else _sample(data))
    if detected:
        try:
            return _decode(data, detected, clean=clean)
        except (UnicodeDecodeError, LookupError):
            log.debug("detected encoding %s failed, falling back", detected)
    try:
        return _decode(data, "gb18030", clean=clean)
    except UnicodeDecodeError:
        return _decode(data, "utf-8", errors="replace", clean=clean)


def _sample(data: bytes) -> bytes:
    """The start and the middle of a large file, each cut at a line end."""
    half = DETECT_SAMPLE // 2
    head = data[:half].rsplit(b"\n", 1)[0]
    mid = len(data) // 2
    middle = data[mid: mid + half]
    middle = middle[middle.find(b"\n") + 1:].rsplit(b"\n", 1)[0]
    return head + b"\n" + middle


def _decode(data: bytes, encoding: str, skip: int = 0, errors: str = "strict", clean: bool = False) -> str:
    """``data[skip:].decode(encoding)`` (and cleaned: :func:`clean_text`), in blocks with a pause
    between them when large."""
    if len(data) - skip <= 4 * BLOCK_BYTES:
        text = data[skip:].decode(encoding, errors=errors)
        return _clean(text) if clean and text else text
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    cleaner = _BlockCleaner() if clean else None
    parts = []
    for i in range(skip, len(data), BLOCK_BYTES):
        held = len(decoder.getstate()[0])  # bytes of a character begun in the block before
        try:
            part = decoder.decode(data[i: i + BLOCK_BYTES], final=i + BLOCK_BYTES >= len(data))
        except UnicodeDecodeError as exc:  # say where in the whole file, as a whole-file decode would
            raise UnicodeDecodeError(exc.encoding, data, i - held + exc.start, i - held + exc.end,
                                     exc.reason) from None
        parts.append(cleaner.feed(part) if cleaner else part)
        time.sleep(0)  # let the other threads run
    if cleaner:
        parts.append(cleaner.end())
    return "".join(parts)


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file look like text in some encoding."""
    if not head:
        return True
    if bom_encoding(head):
        return True
    wide = wide_encoding(head)
    if wide:
        text = head[: len(head) - len(head) % 4].decode(wide, errors="replace")
        return _control_ratio(text) < 0.01
    if b"\x00" in head:
        return False
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        # a U+FFFD written in the file (an earlier tool's undecodable byte) is text, not binary
        return _control_ratio(text, replacements=False) < 0.01
    except UnicodeDecodeError:
        pass
    controls = sum(1 for b in head if (b < 0x20 and b not in b"\t\n\r\f\v\x1b") or b == 0x7F)
    return controls / len(head) < 0.01


def clean_text(text: str) -> str:
    """Unify line ends and drop control characters a loader may leak (NUL, BOM...)."""
    if not text:
        return ""
    if len(text) > 4 * BLOCK_BYTES:  # in blocks, letting other threads run between them
        cleaner = _BlockCleaner()
        parts = []
        for i in range(0, len(text), BLOCK_BYTES):
            parts.append(cleaner.feed(text[i: i + BLOCK_BYTES]))
            time.sleep(0)
        parts.append(cleaner.end())
        return "".join(parts)
    return _clean(text)


class _BlockCleaner:
    """:func:`_clean` over a text given block by block: a ``\\r\\n`` cut in two between blocks is kept
    for the next block, so the result is that of cleaning the whole text at once."""

    def __init__(self) -> None:
        self.carry = ""

    def feed(self, block: str) -> str:
        piece = self.carry + block if self.carry else block
        self.carry = "\r" if piece.endswith("\r") else ""
        return _clean(piece[:-1] if self.carry else piece)

    def end(self) -> str:
        carry, self.carry = self.carry, ""
        return _clean(carry) if carry else ""


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\v", "\n")
    return _CONTROLS.sub("", text)
