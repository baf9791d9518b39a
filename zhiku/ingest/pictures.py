"""A document's pictures during ingestion: stored under the KB's data folder, captioned when a
vision model is configured, the captions indexed beside the text.

The loaders keep the pictures worth keeping (``loaders/pictures.py``) in ``doc.meta["pictures"]``.
``keep_pictures`` then, before the document is split:

- writes each to ``HOME/kbs/<kb id>/images/<sha256>.<ext>`` (written once, atomically; the name is
  the content's hash, never a name from the document), which ``GET /api/kbs/{kb}/files/{file}/images/{id}``
  serves to whoever may read the file;
- asks the captioner (``zhiku.chat.vision.Vision``, given by the app) for a caption of at most
  ``ingest.picture_captions`` pictures per file (the largest first), each within
  ``ingest.picture_caption_timeout_s`` and all within ``ingest.picture_captions_total_s``; a caption
  becomes a block right after the picture's text (``meta["images"]``, ``meta["caption"]``), so it is
  searched like any text and a citation of it shows the picture;
- records what happened: ``doc.meta["pictures"]`` becomes JSON-able summaries, and
  ``doc.meta["picture_failures"]`` lists each picture that was not captioned with the reason. A
  picture failing never fails the file.
"""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from zhiku.ingest.loaders.base import Block, LoadedDocument
from zhiku.ingest.loaders.pictures import EXTENSIONS, Picture

if TYPE_CHECKING:
    from zhiku.config import IngestSettings

log = logging.getLogger(__name__)

IMAGE_ID = re.compile(r"[0-9a-f]{64}")
CAPTION_LABEL = "Picture"


class Captioner(Protocol):
    """What ingestion needs of a vision model (``zhiku.chat.vision.Vision`` is one)."""

    def caption_model(self) -> str | None:
        """The vision model's name, or None when none is configured."""
        ...

    def caption(self, data: bytes, mime: str, timeout_s: float) -> str:
        """A short description of the picture; raises (any ``ZhikuError``) when it cannot."""
        ...


def images_dir(kbs_root: Path, kb_id: str) -> Path:
    """The folder of a KB's pictures."""
    return kbs_root / kb_id / "images"


def picture_path(folder: Path, image_id: str) -> Path | None:
    """The stored picture with this id, or None; only a 64-hex-digit id ever reaches the disk."""
    if not IMAGE_ID.fullmatch(image_id):
        return None
    for ext in EXTENSIONS.values():
        path = folder / f"{image_id}{ext}"
        if path.is_file():
            return path
    return None


def media_type(path: Path) -> str:
    return next((mime for mime, ext in EXTENSIONS.items() if path.suffix == ext), "application/octet-stream")


def _store(folder: Path, pic: Picture) -> None:
    path = folder / f"{pic.id}{EXTENSIONS[pic.mime]}"
    if path.is_file():
        return  # same content, same name: already there
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.part")
    tmp.write_bytes(pic.data)
    os.replace(tmp, path)


def keep_pictures(doc: LoadedDocument, folder: Path, settings: "IngestSettings",
                  captioner: Captioner | None) -> None:
    """Store the document's pictures, caption them when a vision model is configured and place the
    captions among its blocks (see the module docstring)."""
    pictures: list[Picture] = [p for p in doc.meta.pop("pictures", None) or [] if isinstance(p, Picture)]
    if not pictures:
        return
    for pic in pictures:
        _store(folder, pic)
    failures: list[dict[str, Any]] = []
    model = captioner.caption_model() if captioner is not None and settings.picture_captions > 0 else None
    if captioner is not None and model is not None:
        failures = _caption(doc, pictures, captioner, model, settings)
    doc.meta["pictures"] = [p.summary() for p in pictures]
    if failures:
        doc.meta["picture_failures"] = failures


def _caption(doc: LoadedDocument, pictures: list[Picture], captioner: Captioner, model: str,
             settings: "IngestSettings") -> list[dict[str, Any]]:
    failures: list[dict[str, Any]] = []
    order = sorted(pictures, key=lambda p: -(p.width * p.height))
    started = time.monotonic()
    for i, pic in enumerate(order):
        if i >= settings.picture_captions:
            failures.append({"id": pic.id, "page": pic.page,
                             "reason": f"over the {settings.picture_captions} pictures captioned per file"})
            continue
        left = settings.picture_captions_total_s - (time.monotonic() - started)
        if left <= 1:
            failures.append({"id": pic.id, "page": pic.page, "reason": "the file's time for captions ran out "
                             f"({settings.picture_captions_total_s:g} s)"})
            continue
        try:
            text = " ".join(captioner.caption(pic.data, pic.mime, min(settings.picture_caption_timeout_s, left))
                            .split())
        except Exception as exc:  # noqa: BLE001 - one picture failing never fails the file
            reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            log.warning("picture %s of page %s not captioned: %s", pic.id[:12], pic.page, reason)
            failures.append({"id": pic.id, "page": pic.page, "reason": str(reason)[:300]})
            continue
        if not text:
            failures.append({"id": pic.id, "page": pic.page, "reason": f"model '{model}' gave an empty caption"})
            continue
        pic.caption = text[:2000]
        _place_caption(doc, pic, model)
    return failures


def _place_caption(doc: LoadedDocument, pic: Picture, model: str) -> None:
    """The caption's block, right after the last block showing the picture (else after its page)."""
    block = Block(f"{CAPTION_LABEL}: {pic.caption}", page=pic.page, section=pic.section,
                  meta={"images": [pic.id], "caption": True, "caption_model": model, "captions": {pic.id: pic.caption}})
    at = None
    for i, b in enumerate(doc.blocks):
        if pic.id in (b.meta.get("images") or []):
            at = i + 1
    if at is None:
        at = len(doc.blocks)
        if pic.page is not None:
            at = max((i + 1 for i, b in enumerate(doc.blocks) if b.page is not None and b.page <= pic.page),
                     default=0)
    doc.blocks.insert(at, block)


def failures_note(doc: Any) -> str:
    """What the per-file outcome says about pictures that were not captioned ('' when none)."""
    failures = getattr(doc, "meta", {}).get("picture_failures") if doc is not None else None
    if not failures:
        return ""
    first = failures[0]
    where = f" (page {first['page']})" if first.get("page") else ""
    more = f"; {len(failures) - 1} more" if len(failures) > 1 else ""
    n = len(failures)
    return f"; {n} picture{'s' if n > 1 else ''} not captioned: {first['reason']}{where}{more}"
