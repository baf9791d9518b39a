"""The text layer of a PDF page through PDFium: characters grouped into positioned runs.

``page_runs`` walks a page's characters once (``FPDFText_*``) and groups them into
``Seg`` runs: consecutive characters on one line with no wide gap, carrying the font
size and whether the font is bold (PDFium puts a space character where words are drawn
apart without one). Soft hyphens at line ends are kept as ``\xad`` so
the layout can join the word; rotated characters (margin stamps, a book's imprint set
sideways) are kept apart, with their spaces ("1965 August First Edition", not
"1965AugustFirstEdition").

Text is NFKC-normalised (Chrome-printed PDFs emit Kangxi radicals such as "⾦" for
"金", and ligatures such as "ﬁ"), except full-width CJK punctuation, which NFKC
would turn into ASCII ("，" → ","), changing how Chinese text reads.
"""

from __future__ import annotations

import ctypes
import re
import unicodedata
from typing import Any

from zhiku.ingest.loaders.encoding import clean_text
from zhiku.ingest.loaders.pdf_layout import Seg

_KEEP = re.compile("([\u3000\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+)")
_LOOSE_ACCENT = re.compile(r"(?:\s|^)[\u0300-\u036f]+")
#: four or more single letters (or digits), one space apart: letter-spaced type
_LETTER_SPACED = re.compile(r"(?:[^\W_] ){3,}[^\W_]")
_FIGURES = dict(zip("!@#$%^&*()", "1234567890", strict=True))
_SPACES = frozenset(" \t\xa0\u3000")


def normalize_pdf_text(text: str) -> str:
    """NFKC, keeping full-width CJK punctuation; control characters dropped."""
    parts = _KEEP.split(text)
    text = "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))
    # a spacing accent drawn on its own ("Og˘uz" typeset by LaTeX) becomes, under NFKC, a
    # space and a combining mark that attach to nothing: drop it, the word reads whole
    text = _LOOSE_ACCENT.sub("", text)
    return clean_text(text)


class PageText:
    """What ``page_runs`` read on a page: its runs, how many characters they hold, and
    how many characters had no usable Unicode value (private-use code points, U+FFFD:
    glyphs of a font without a Unicode map, or a scan's garbage text layer)."""

    __slots__ = ("chars", "runs", "unmapped")

    def __init__(self, runs: list[Seg], chars: int, unmapped: int) -> None:
        self.runs = runs
        self.chars = chars
        self.unmapped = unmapped

    @property
    def garbled(self) -> bool:
        """Too much of the page is unreadable glyphs, mojibake or symbol soup for its text
        layer to be trusted (a scan's garbage text layer: OCR the page instead)."""
        if self.unmapped >= 20 and self.unmapped >= 0.2 * (self.chars + self.unmapped):
            return True
        return garbage_text(" ".join(s.text for s in self.runs))


#: UTF-8 read as Latin-1/cp1252 ("Ã©", "â€™", "Ã¤Â¸Â­"), and GBK's replacement run "锟斤拷"
_MOJIBAKE = re.compile("[\u00c2-\u00ef][\u00a1-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e"
                       "\u0192\u02c6\u02dc\u2013-\u2122]|锟斤拷")
_READABLE_PUNCT = frozenset(".,;:!?'\"()[]{}-–—‘’“”%/&+=*#@°·•、，。；：！？（）《》「」『』【】…")
#: a page needs this many non-space characters before its text layer is judged
GARBAGE_MIN_CHARS = 40


def garbage_text(text: str) -> bool:
    """True for a text layer that is mostly mojibake or symbol soup: under 60% of its
    characters letters, digits or ordinary punctuation, or a fifth of its letters in
    mojibake pairs. Prose in any script, tables of figures and code pass."""
    chars = [c for c in text if not c.isspace()]
    if len(chars) < GARBAGE_MIN_CHARS:
        return False
    readable = sum(1 for c in chars if c.isalnum() or c in _READABLE_PUNCT)
    if readable < 0.6 * len(chars):
        return True
    letters = sum(1 for c in chars if c.isalpha())
    return 2 * len(_MOJIBAKE.findall(text)) >= 0.2 * max(letters, 1)


def _effective_size(textpage: Any, i: int, size: float, matrix: Any, box_height: float) -> float:
    """The font size as drawn: the text state's size times the text matrix's scale (books
    set ``1 Tf`` and scale with the matrix), or the glyph box height when neither helps."""
    from pypdfium2 import raw

    if raw.FPDFText_GetMatrix(textpage, i, ctypes.byref(matrix)):
        scale = abs(matrix.a * matrix.d - matrix.b * matrix.c) ** 0.5
        if scale > 0:
            size *= scale
    if size <= 0 or (box_height > 0 and not 0.3 * box_height <= size <= 4 * box_height):
        return box_height
    return size


def _unspace(text: str) -> str:
    """A run typed letter-spaced with real spaces ("S E L E C T E D") read as the word;
    runs with any longer word are prose and stay as they are."""
    if " " in text and _LETTER_SPACED.fullmatch(text):
        return text.replace(" ", "")
    return text


def page_runs(textpage: Any, box: tuple[float, float, float, float]) -> PageText:
    """Runs of text: consecutive characters on one line with no wide gap between them."""
    from pypdfium2 import raw

    l, _, _, t = box
    n = raw.FPDFText_CountChars(textpage)
    rect = raw.FS_RECTF()
    get_unicode = raw.FPDFText_GetUnicode
    get_box = raw.FPDFText_GetLooseCharBox
    get_size = raw.FPDFText_GetFontSize
    matrix = raw.FS_MATRIX()
    unmapped = 0
    runs: list[Seg] = []
    buf: list[str] = []
    x0 = top = x1 = bottom = 0.0
    size = 0.0
    start = -1
    count = 0
    font = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    letter_fonts: set[str] = set()
    prev_rotated = False  # the last character kept was rotated: its spaces go with it

    def font_name(i: int) -> str:
        got = raw.FPDFText_GetFontInfo(textpage, i, font, 128, ctypes.byref(flags))
        return font.value[: max(0, got - 1)].decode("latin-1", "replace").lower() if got else ""

    def close() -> None:
        text = "".join(buf).strip()
        if text:
            weight = raw.FPDFText_GetFontWeight(textpage, start)
            bold = weight >= 600
            if not bold:
                name = font_name(start)
                bold = any(k in name for k in ("bold", "black", "heavy", "semibold", "-demi", "黑体"))
            runs.append(Seg(_unspace(normalize_pdf_text(text)), x0, top, x1, bottom, size=size, bold=bold))
        buf.clear()

    get_angle = raw.FPDFText_GetCharAngle
    rotated: list[str] = []
    whole = ""
    try:
        whole = raw_text(textpage, n)
    except Exception:  # noqa: BLE001
        whole = ""
    fast = len(whole) == n
    byref_rect = ctypes.byref(rect)
    for i in range(n):
        if fast:
            ch = whole[i]
            u = ord(ch)
            if u <= 32:  # GetText shows a glyph without a Unicode value as a space
                u = get_unicode(textpage, i)
                ch = chr(u) if u else ""
        else:
            u = get_unicode(textpage, i)
            ch = chr(u) if 0 < u < 0x110000 else ""
        if u in (2, 0xAD, 0xFFFE):  # a hyphen that breaks a word at the line end
            if buf:
                buf.append("\xad")
            continue
        if u in (10, 13):
            if buf:
                close()
            if prev_rotated and rotated and rotated[-1] != " ":
                rotated.append(" ")
            continue
        if u == 0 or 0xE000 <= u < 0xF900 or u == 0xFFFD or u >= 0xF0000:  # a glyph without a Unicode value
            unmapped += 1
            continue
        if ch in _FIGURES and fast and any(c in _FIGURES for c in whole[max(0, i - 3) : i] + whole[i + 1 : i + 4]):
            # "!(@^" for "1926": an old-style-figures font that put its digits on the
            # shifted keys and has no Unicode map; it draws no letter on the page
            name = font_name(i)
            if name and name not in letter_fonts:
                ch = _FIGURES[ch]
                u = ord(ch)
        if u < 32 or ch in _SPACES or not ch or 0xD800 <= u < 0xE000 or 0x7F <= u < 0xA0:
            if buf and buf[-1] != " ":
                buf.append(" ")
            elif prev_rotated and rotated and rotated[-1] != " ":
                rotated.append(" ")  # the spaces of rotated text ("1965 August First Edition")
            continue
        if not get_box(textpage, i, byref_rect):
            continue
        cx0, cx1 = rect.left - l, rect.right - l
        ctop, cbottom = t - rect.top, t - rect.bottom
        if cbottom < ctop:
            ctop, cbottom = cbottom, ctop
        count += 1
        if buf:
            cy = (ctop + cbottom) / 2
            band = 0.2 * (bottom - top)
            if not (top - band < cy < bottom + band) or cx0 - x1 > 1.2 * size or cx0 < x0 - size:
                close()
        if not buf:
            angle = get_angle(textpage, i)
            if 0.05 < angle < 6.23:  # rotated text (a margin stamp, a turned label): kept apart
                rotated.append(ch)
                prev_rotated = True
                continue
            if ch.isalpha():
                letter_fonts.add(font_name(i))
            fs = _effective_size(textpage, i, get_size(textpage, i), matrix, cbottom - ctop)
            x0, top, x1, bottom, size, start = cx0, ctop, cx1, cbottom, fs, i
        else:
            x1 = max(x1, cx1)
            top = min(top, ctop)
            bottom = max(bottom, cbottom)
        buf.append(ch)
        prev_rotated = False
    if buf:
        close()
    if rotated:
        text = " ".join(normalize_pdf_text("".join(rotated)).split())
        if text and not runs:  # a page turned sideways: its text, in stream order
            return PageText([Seg(text, 0, 0, 1, 1, size=0.0)], count + len(rotated), unmapped)
        if text:
            bottom_y = max(s.bottom for s in runs) + 1
            runs.append(Seg(text, 0, bottom_y, 1, bottom_y + 1, size=0.0))
    return PageText(runs, count + len(rotated), unmapped)


def raw_text(textpage: Any, n: int) -> str:
    """The page's characters, one per character index (UTF-16 code units)."""
    from pypdfium2 import raw

    buf = ctypes.create_string_buffer((n + 1) * 2)
    got = raw.FPDFText_GetText(textpage, 0, n, ctypes.cast(buf, ctypes.POINTER(ctypes.c_ushort)))
    return buf.raw[: max(0, got - 1) * 2].decode("utf-16-le", errors="replace")
