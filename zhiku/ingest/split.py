"""A Chinese-aware recursive splitter: loader ``Block``s → ``ChunkDraft``s.

Every block is cut into *units* no longer than ``chunk_size`` characters, at
the coarsest boundary that works: paragraphs (blank lines), then sentences
(。！？；… and . ! ? ; followed by a space, closing quotes kept with their
sentence, "e.g."/"3.14"/"J. Smith" left whole), then lines, then clauses
(，、： and , : followed by a space), then spaces, then a hard cut. Tables are
cut only between rows, and every piece after the first repeats the header
(the first two markdown lines); code is cut only between lines.

Units are then packed greedily into chunks up to ``chunk_size``. A chunk never
crosses a top-level section (``section[0]``) or a sheet; a heading that would
end a chunk moves to the next one. When a chunk closed only because it was
full, the next one starts with the previous chunk's trailing whole sentences,
up to ``chunk_overlap`` characters.

Offsets: ``start``/``end`` index the document text, ``"\\n\\n".join(block.text)``
(``LoadedDocument.text``). For a chunk, ``text == document_text[start:end]``,
except (a) a table piece after the first, whose text is the header row + "\\n"
+ ``document_text[start:end]``, and (b) with ``title_enhance``, where the
section path ("A > B\\n") is prepended; offsets never cover these prefixes, and
sizes do not count the section path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from zhiku.errors import InvalidInput
from zhiku.ingest.loaders.base import Block
from zhiku.ingest.loaders.limits import checkpoint
from zhiku.text.sentences import LEVELS, sentence_starts, trim

_MD_SEPARATOR = re.compile(r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*")


@dataclass
class ChunkDraft:
    """A chunk before it is stored. See the module docstring for ``start``/``end``."""

    text: str
    kind: str = "text"
    page: int | None = None
    page_end: int | None = None
    section: tuple[str, ...] = ()
    start: int = 0
    end: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Unit:
    start: int
    end: int
    block: int
    kind: str
    prefix: str = ""  # table header repeated before a continuation piece
    meta: dict[str, Any] | None = None  # overrides the block's meta (narrowed "rows")


def document_text(blocks: Sequence[Block]) -> str:
    """The text chunk offsets refer to (same as ``LoadedDocument.text``)."""
    return "\n\n".join(b.text for b in blocks)


def _split_span(text: str, lo: int, hi: int, size: int, level: int = 0) -> list[tuple[int, int]]:
    """Cut [lo, hi) into trimmed spans of at most ``size``, at the coarsest boundaries that work."""
    lo, hi = trim(text, lo, hi)
    if lo >= hi:
        return []
    if hi - lo <= size:
        return [(lo, hi)]
    while level < len(LEVELS):
        cuts = [c for c in LEVELS[level](text, lo, hi) if lo < c < hi]
        level += 1
        if cuts:
            out: list[tuple[int, int]] = []
            for a, b in zip([lo, *cuts], [*cuts, hi]):
                out.extend(_split_span(text, a, b, size, level))
            return out
    return _hard_cut(text, lo, hi, size)


def _hard_cut(text: str, lo: int, hi: int, size: int) -> list[tuple[int, int]]:
    """Last resort (no space or punctuation for ``size`` characters): cut, preferring a CJK or
    non-letter position so that a Latin word is cut only when it is itself longer than ``size``."""
    out = []
    while hi - lo > size:
        cut = lo + size
        for c in range(cut, lo + size // 2, -1):
            if not (text[c - 1].isascii() and text[c - 1].isalnum() and text[c].isascii() and text[c].isalnum()):
                cut = c
                break
        out.append((lo, cut))
        lo = cut
    out.append((lo, hi))
    return out


# ---- blocks → units -------------------------------------------------------------------------
def _units_of(text: str, lo: int, hi: int, block: Block, idx: int, size: int) -> list[_Unit]:
    kind = block.kind if block.kind in ("text", "heading", "table", "code") else "text"
    if kind == "table":
        return _table_units(text, lo, hi, block, idx, size)
    if kind == "code":
        return _code_units(text, lo, hi, idx, size)
    return [_Unit(a, b, idx, kind) for a, b in _split_span(text, lo, hi, size)]


def _lines(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    out, pos = [], lo
    while pos <= hi:
        nl = text.find("\n", pos, hi)
        end = hi if nl < 0 else nl
        out.append((pos, end))
        if nl < 0:
            break
        pos = nl + 1
    return out


def _table_units(text: str, lo: int, hi: int, block: Block, idx: int, size: int) -> list[_Unit]:
    lo, hi = trim(text, lo, hi)
    if lo >= hi:
        return []
    if hi - lo <= size:
        return [_Unit(lo, hi, idx, "table")]
    lines = [(a, b) for a, b in _lines(text, lo, hi) if text[a:b].strip()]
    n_head = 2 if len(lines) > 1 and _MD_SEPARATOR.fullmatch(text[lines[1][0] : lines[1][1]]) else 1
    header = "\n".join(text[a:b] for a, b in lines[:n_head])
    rows = lines[n_head:]
    units: list[_Unit] = []
    # the piece being filled: its span (the first piece's includes the header) and first body row;
    # its end is None until it has a row
    first, start, end = 0, lines[0][0], None
    for i, (a, b) in enumerate(rows):
        prefix_len = 0 if not units else len(header) + 1
        if end is not None and prefix_len + b - start > size:
            units.append(_table_piece(block, idx, start, end, header if units else "", (first, i - 1, len(rows))))
            first, start = i, a
        end = b
    if end is None:  # a header with no rows
        end = lines[-1][1]
    units.append(_table_piece(block, idx, start, end, header if units else "", (first, len(rows) - 1, len(rows))))
    return units


def _table_piece(block: Block, idx: int, a: int, b: int, prefix: str, span: tuple[int, int, int]) -> _Unit:
    """A table piece; ``span`` = (first body row, last body row, body rows in the table)."""
    r0, r1, n_rows = span
    meta = None
    rows = _parse_rows(block.meta.get("rows"))
    if rows and rows[1] - rows[0] + 1 == n_rows:  # "rows" numbers the body rows one by one: narrow it
        meta = {**block.meta, "rows": f"{rows[0] + r0}-{rows[0] + r1}"}
    return _Unit(a, b, idx, "table", prefix, meta)


def _code_units(text: str, lo: int, hi: int, idx: int, size: int) -> list[_Unit]:
    """Code: groups between blank lines, or lines when a group is too long; indentation kept."""
    units: list[_Unit] = []
    group: list[tuple[int, int]] = []
    for a, b in [*_lines(text, lo, hi), (hi, hi)]:
        if text[a:b].strip():
            group.append((a, b))
            continue
        if not group:
            continue
        if group[-1][1] - group[0][0] <= size:
            units.append(_Unit(group[0][0], group[-1][1], idx, "code"))
        else:
            cur: list[int] = []
            for x, y in group:
                if cur and y - cur[0] <= size:
                    cur[1] = y
                    continue
                if cur:
                    units.append(_Unit(cur[0], cur[1], idx, "code"))
                cur = [x, y]
                if y - x > size:  # one line longer than a chunk: the only place code is cut mid-line
                    units.extend(_Unit(p, q, idx, "code") for p, q in _hard_cut(text, x, y, size))
                    cur = []
            if cur:
                units.append(_Unit(cur[0], cur[1], idx, "code"))
        group = []
    return units


# ---- units → chunks -------------------------------------------------------------------------
def _parse_rows(value: Any) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+))?\s*", str(value)) if value is not None else None
    return (int(m.group(1)), int(m.group(2) or m.group(1))) if m else None


def _merge_meta(metas: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """First value wins, except ``rows`` (spans are joined), booleans (any True), ``images`` and
    ``captions`` (all of them)."""
    out: dict[str, Any] = {}
    for meta in metas:
        for key, value in meta.items():
            if key not in out:
                out[key] = value
            elif key == "rows":
                a, b = _parse_rows(out[key]), _parse_rows(value)
                if a and b:
                    out[key] = f"{min(a[0], b[0])}-{max(a[1], b[1])}"
            elif isinstance(value, bool) and isinstance(out[key], bool):
                out[key] = out[key] or value
            elif key == "images" and isinstance(value, list) and isinstance(out[key], list):
                out[key] = out[key] + [v for v in value if v not in out[key]]  # every picture shown
            elif key == "captions" and isinstance(value, dict) and isinstance(out[key], dict):
                out[key] = {**value, **out[key]}  # every picture's caption
    return out


def split_blocks(
    blocks: Sequence[Block], chunk_size: int = 500, chunk_overlap: int = 50, title_enhance: bool = False
) -> list[ChunkDraft]:
    """Split a document's blocks into chunks of at most ``chunk_size`` characters.

    Only a table row or a code line longer than ``chunk_size`` (with the header, for a row)
    makes a longer chunk: rows are never cut.
    """
    if chunk_size <= 0 or chunk_overlap < 0 or chunk_overlap >= chunk_size:
        raise InvalidInput(
            f"chunk_size must be > 0 and 0 <= chunk_overlap < chunk_size (got {chunk_size}, {chunk_overlap})"
        )
    text = document_text(blocks)

    def units() -> Iterator[_Unit]:  # made block by block as the packer takes them: never all at once
        pos = 0
        for i, block in enumerate(blocks):
            checkpoint()
            yield from _units_of(text, pos, pos + len(block.text), block, i, chunk_size)
            pos += len(block.text) + 2

    return _Packer(text, blocks, chunk_size, chunk_overlap, title_enhance).pack(units())


class _Packer:
    def __init__(self, text: str, blocks: Sequence[Block], size: int, overlap: int, title_enhance: bool):
        self.text, self.blocks, self.size, self.overlap = text, blocks, size, overlap
        self.title_enhance = title_enhance
        self.out: list[ChunkDraft] = []

    def _key(self, u: _Unit) -> tuple[Any, ...]:
        b = self.blocks[u.block]
        return (b.section[:1], b.meta.get("sheet"))

    def _fits(self, start: int, prefix: str, u: _Unit) -> bool:
        return (len(prefix) + 1 if prefix else 0) + u.end - start <= self.size

    def pack(self, units: Iterable[_Unit]) -> list[ChunkDraft]:
        cur: list[_Unit] = []
        lead: list[_Unit] = []  # units of the previous chunk whose tail is repeated as overlap
        start = 0
        for u in units:
            if cur and not u.prefix and self._key(u) == self._key(cur[0]) and self._fits(start, cur[0].prefix, u):
                cur.append(u)
                continue
            carry: list[_Unit] = []
            if cur and not u.prefix:  # trailing headings go with what they introduce, if it fits
                j = len(cur)
                while j > 1 and cur[j - 1].kind == "heading":
                    j -= 1
                if j < len(cur) and self._key(cur[j]) == self._key(u) and u.end - cur[j].start <= self.size:
                    carry = cur[j:]
                    del cur[j:]
            new_start = carry[0].start if carry else u.start
            new_lead: list[_Unit] = []
            if cur:
                self._emit(cur, lead, start)
                if not carry and not u.prefix and u.kind == "text" and self._key(u) == self._key(cur[0]):
                    new_start, new_lead = self._overlap(lead + cur, start, u)
            cur, lead, start = carry + [u], new_lead, new_start
        if cur:
            self._emit(cur, lead, start)
        return self.out

    def _overlap(self, prev: list[_Unit], prev_start: int, u: _Unit) -> tuple[int, list[_Unit]]:
        """Start of the trailing whole sentences of the previous chunk (``prev``: its units,
        its own overlap first) to repeat before ``u``, and the units that text comes from."""
        j = len(prev)
        while j > 0 and prev[j - 1].kind in ("text", "heading") and not prev[j - 1].prefix:
            j -= 1
        if self.overlap <= 0 or j == len(prev):
            return u.start, []
        tail_lo = max(prev[j].start if j > 0 else prev_start, prev_start)
        end = prev[-1].end
        lo = max(tail_lo, end - self.overlap)
        for s in sentence_starts(self.text, tail_lo, end):
            if s >= lo and s > prev_start and u.end - s <= self.size:
                return s, [x for x in prev if x.end > s]
        return u.start, []

    def _emit(self, units: list[_Unit], lead: list[_Unit], start: int) -> None:
        end = units[-1].end
        body = self.text[start:end]
        if not body.strip():
            return
        prefix = units[0].prefix
        text = f"{prefix}\n{body}" if prefix else body
        blocks = [self.blocks[u.block] for u in lead + units]
        sections = [self.blocks[u.block].section for u in units]
        section = sections[0]
        for s in sections[1:]:
            n = 0
            while n < min(len(section), len(s)) and section[n] == s[n]:
                n += 1
            section = section[:n]
        if self.title_enhance and section:
            text = " > ".join(section) + "\n" + text
        kinds = {u.kind for u in units if u.kind != "heading"}
        pages = [b.page for b in blocks if b.page is not None]
        metas = [u.meta if u.meta is not None else self.blocks[u.block].meta for u in lead + units]
        self.out.append(
            ChunkDraft(
                text=text,
                kind=kinds.pop() if len(kinds) == 1 else "text",
                page=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                section=tuple(section),
                start=start,
                end=end,
                meta=_merge_meta(metas),
            )
        )
