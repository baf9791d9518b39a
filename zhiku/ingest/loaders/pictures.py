"""Pictures inside documents (PDF, DOCX, PPTX): kept with their page and place in the text.

A loader hands every picture it meets to a ``PictureCollector`` (the picture's bytes, its name
inside the document, its page/slide, its section and where it sits among the blocks read so
far). ``finish`` then decides, for the whole document at once:

- what is skipped: pictures Pillow cannot decode (EMF/WMF...), tiny ones (either side under
  ``MIN_SIDE`` px or under ``MIN_AREA`` px²: bullets, icons, rules), blank fills, ones over
  ``MAX_BYTES``/``MAX_PIXELS``, the same picture met ``REPEATED`` times or more (a logo on every
  page or slide), and any past ``MAX_PICTURES``; the counts land in ``doc.meta["pictures_skipped"]``;
- what is kept: one ``Picture`` per distinct content (its id is the SHA-256 of the bytes kept, so
  a name never comes from the document), as PNG/JPEG/GIF/WebP (other formats are converted to PNG);
- the text: a picture big enough to hold text (``ocr.MIN_EMBEDDED_SIDE``) is OCR'd when the OCR
  extra is installed, its blocks placed where the picture is, marked ``meta["ocr"]`` and
  ``meta["images"] = [id]`` (unless most of it is already text of the page: a scan under its own
  text layer is not read twice); a picture without text gives its id to the nearest block of its page
  (the text around it, else the nearest block), so a chunk citing that text shows the picture.

The kept pictures go to ``doc.meta["pictures"]`` (bytes included); the ingestion pipeline stores
them under the KB's data folder and, when a vision model is configured, captions them
(``zhiku/ingest/pictures.py``).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from zhiku.ingest.loaders.base import Block
from zhiku.ingest.loaders.limits import checkpoint

log = logging.getLogger(__name__)

MIN_SIDE = 48
MIN_AREA = 96 * 96
MAX_BYTES = 20 * 2**20
MAX_PIXELS = 40_000_000
MAX_PICTURES = 100
MAX_OCR = 50
REPEATED = 3
WEB_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}


@dataclass
class Picture:
    """A picture of a document, as kept: ``id`` (SHA-256 hex of ``data``), ``mime``, its size in
    pixels, the page/slide and section where it first appears, its name inside the document (for
    messages only) and the text OCR read in it."""

    id: str
    data: bytes
    mime: str
    width: int
    height: int
    page: int | None = None
    section: tuple[str, ...] = ()
    name: str = ""
    ocr_text: str = ""
    caption: str = ""

    def summary(self) -> dict[str, Any]:
        """What is said about the picture once its bytes are stored (JSON-able)."""
        out: dict[str, Any] = {"id": self.id, "mime": self.mime, "width": self.width, "height": self.height,
                               "page": self.page, "bytes": len(self.data)}
        if self.caption:
            out["caption"] = self.caption
        return out


@dataclass
class _Seen:
    blob: bytes
    name: str
    page: int | None
    section: tuple[str, ...]
    anchor: int | None


@dataclass
class PictureCollector:
    """Collects a document's pictures while it is read; ``finish`` places them among its blocks."""

    ocr: bool | None = None  # None: OCR when the extra is installed
    seen: list[_Seen] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    text_skipped: dict[str, int] = field(default_factory=dict)
    ocr_read: int = 0  # pictures whose OCR text was placed
    ocr_tried: int = 0  # pictures OCR was run on (at most MAX_OCR a file)

    def add(self, blob: bytes, name: str = "", *, page: int | None = None, section: tuple[str, ...] = (),
            anchor: int | None = None) -> None:
        """A picture met while reading; ``anchor``: how many blocks come before it (None: after the
        blocks of its page)."""
        if not blob:
            return
        self.seen.append(_Seen(blob, name, page, tuple(section), anchor))

    def _skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def _skip_text(self, why: str) -> None:
        """A picture kept whose OCR text is left out (``meta["picture_text_skipped"]``)."""
        self.text_skipped[why] = self.text_skipped.get(why, 0) + 1

    def finish(self, blocks: list[Block], meta: dict[str, Any]) -> list[Block]:
        """The blocks with the pictures' text placed; ``meta`` gets ``pictures`` (the kept ones),
        ``pictures_skipped`` (why others were left out) and ``ocr_images`` (how many gave text)."""
        if not self.seen:
            return blocks
        counts: dict[bytes, int] = {}
        for s in self.seen:
            key = hashlib.sha256(s.blob).digest()
            counts[key] = counts.get(key, 0) + 1
        kept: list[tuple[Picture, Any, int | None]] = []
        ids: set[str] = set()
        done: set[bytes] = set()
        for s in self.seen:
            checkpoint()
            key = hashlib.sha256(s.blob).digest()
            if key in done:
                continue
            done.add(key)
            if counts[key] >= REPEATED:
                self._skip("repeated")
                continue
            if len(kept) >= MAX_PICTURES:
                self._skip("over_limit")
                continue
            made = _normalise(s.blob)
            if isinstance(made, str):
                self._skip(made)
                continue
            data, mime, image = made
            pic = Picture(hashlib.sha256(data).hexdigest(), data, mime, image.width, image.height,
                          s.page, s.section, s.name)
            if pic.id in ids:
                continue
            ids.add(pic.id)
            kept.append((pic, image, s.anchor))
        if not kept:
            _report(meta, [], self.skipped, 0)
            return blocks
        out = self._place(blocks, kept)
        _report(meta, [p for p, _, _ in kept], self.skipped, self.ocr_read)
        if self.text_skipped:
            meta["picture_text_skipped"] = dict(self.text_skipped)
        return out

    def _place(self, blocks: list[Block], kept: list[tuple[Picture, Any, int | None]]) -> list[Block]:
        from zhiku.ingest.loaders.ocr import MIN_EMBEDDED_SIDE, ocr_available

        can_ocr = ocr_available() if self.ocr is None else self.ocr
        inserts: dict[int, list[Block]] = {}
        attach: list[tuple[int, Picture]] = []
        for pic, image, anchor in kept:
            at = anchor if anchor is not None else _after_page(blocks, pic.page)
            at = max(0, min(at, len(blocks)))
            found: list[Block] = []
            if can_ocr and min(pic.width, pic.height) >= MIN_EMBEDDED_SIDE and self.ocr_tried < MAX_OCR:
                found = _ocr(pic, image)
                self.ocr_tried += 1
            if found and _already_there(found, blocks, pic.page):
                self._skip_text("ocr_duplicate")
                found = []
            if found:
                self.ocr_read += 1
                pic.ocr_text = "\n".join(b.text for b in found)
                inserts.setdefault(at, []).extend(found)
            else:
                attach.append((at, pic))
        for at, pic in attach:
            near = _nearest(blocks, at, pic.page)
            if near is not None:
                near.meta["images"] = [*near.meta.get("images", []), pic.id]
        if not inserts:
            return blocks
        out: list[Block] = []
        for i in range(len(blocks) + 1):
            out.extend(inserts.get(i, []))
            if i < len(blocks):
                out.append(blocks[i])
        return out


def _report(meta: dict[str, Any], kept: list[Picture], skipped: dict[str, int], ocr_read: int) -> None:
    if kept:
        meta["pictures"] = kept
    if skipped:
        meta["pictures_skipped"] = dict(skipped)
    if ocr_read:
        meta["ocr_images"] = ocr_read


def _normalise(blob: bytes) -> tuple[bytes, str, Any] | str:
    """(bytes, MIME type, decoded image) of a picture worth keeping, or why it is not."""
    from PIL import Image

    from zhiku.ingest.loaders.ocr import is_blank

    if len(blob) > MAX_BYTES:
        return "too_large"
    try:
        image = Image.open(io.BytesIO(blob))
        if image.width * image.height > MAX_PIXELS:
            return "too_large"
        image.load()
    except Exception:  # noqa: BLE001 - a format Pillow cannot read (EMF, WMF...) or a broken one
        return "unreadable"
    if min(image.size) < MIN_SIDE or image.width * image.height < MIN_AREA:
        return "small"
    try:
        if is_blank(image):
            return "blank"
    except Exception:  # noqa: BLE001 - an odd mode: keep the picture, it is not known to be blank
        log.debug("blank check failed", exc_info=True)
    mime = WEB_FORMATS.get(image.format or "")
    if mime is not None:
        return blob, mime, image
    try:
        converted = image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB")
        buf = io.BytesIO()
        converted.save(buf, format="PNG", optimize=False)
    except Exception:  # noqa: BLE001
        return "unreadable"
    return buf.getvalue(), "image/png", converted


def _ocr(pic: Picture, image: Any) -> list[Block]:
    from zhiku.ingest.loaders.ocr import ocr_blocks

    meta: dict[str, Any] = {"images": [pic.id]}
    if pic.name:
        meta["image"] = pic.name
    try:
        return ocr_blocks(image, page=pic.page, section=pic.section, meta=meta)
    except Exception:  # noqa: BLE001 - one picture's OCR failing keeps the rest of the document
        log.warning("OCR failed on the picture %s", pic.name or pic.id[:12], exc_info=True)
        return []


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text).lower()


def _already_there(found: list[Block], blocks: list[Block], page: int | None) -> bool:
    """Whether much of what OCR read in a picture is already text of its page (a scan under its own
    text layer, a screenshot of a paragraph also typed out): then its OCR text would say it twice.
    Compared as 5-character shingles of the text without spaces and punctuation, so that two
    readings of one scan that differ in a few letters still match."""
    read = _squash(" ".join(b.text for b in found))
    if len(read) < 12:
        return False
    near = _squash(" ".join(b.text for b in blocks if page is None or b.page is None or b.page == page))
    have = {near[i:i + 5] for i in range(len(near) - 4)}
    grams = [read[i:i + 5] for i in range(len(read) - 4)]
    return sum(g in have for g in grams) >= 0.4 * len(grams)


def _after_page(blocks: list[Block], page: int | None) -> int:
    """The position after the last block of ``page`` (or of an earlier page)."""
    if page is None:
        return len(blocks)
    at = 0
    for i, b in enumerate(blocks):
        if b.page is not None and b.page <= page:
            at = i + 1
    return at


def _nearest(blocks: list[Block], at: int, page: int | None) -> Block | None:
    """The block a picture at ``at`` belongs with: the one before it on its page, else the one after."""
    def same(b: Block) -> bool:
        return page is None or b.page is None or b.page == page

    before = blocks[at - 1] if 0 < at <= len(blocks) else None
    after = blocks[at] if at < len(blocks) else None
    for b in (before, after):
        if b is not None and same(b) and b.kind != "heading":
            return b
    for b in (before, after):
        if b is not None and same(b):
            return b
    return before or after  # a page of pictures only: the text next to it
