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

A picture is shared by every file of the KB that holds the same bytes, so it goes when no chunk of
the KB shows it any more: ``drop_pictures`` runs after a file is removed or replaced, taken out of
search, fails, or a chunk is deleted (a KB's deletion removes its whole folder), and ``zhiku kb
check`` reports (``--repair``: removes) the ones left behind, by a crash say. A file being added
has stored its pictures before its chunks are committed: it pins them (``picture-pins/<pid>-<n>``
beside ``images/``, written with the pictures under that folder's lock, removed by ``unpin`` once the file is committed or
failed) and neither removal takes a pinned picture. A pin of a process that is gone, or older than
``PIN_STALE_S``, no longer counts.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from zhiku.ingest.loaders.base import Block, LoadedDocument
from zhiku.ingest.loaders.pictures import EXTENSIONS, Picture
from zhiku.store.locks import folder_lock

if TYPE_CHECKING:
    from zhiku.config import IngestSettings

log = logging.getLogger(__name__)

IMAGE_ID = re.compile(r"[0-9a-f]{64}")
CAPTION_LABEL = "Picture"
PINS = "picture-pins"  # beside the images folder: the pictures of files being added, and the lock
PIN_STALE_S = 24 * 3600.0
PIN_KEY = "_picture_pin"  # doc.meta: the pin of the document's pictures until it is committed or failed
_pin_numbers = itertools.count()


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
    with folder_lock(_pins(folder), exclusive=True):  # pinned and stored together: a removal sees both or neither
        pin = _pins(folder) / f"{os.getpid()}-{next(_pin_numbers)}"
        pin.write_text("\n".join(p.id for p in pictures))
        for pic in pictures:
            _store(folder, pic)
    doc.meta[PIN_KEY] = str(pin)
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


# -- pictures that no chunk shows any more ------------------------------------------------------
def _pins(folder: Path) -> Path:
    return folder.parent / PINS


def picture_ids(doc: Any) -> set[str]:
    """The ids of the pictures ``keep_pictures`` stored for ``doc`` (none for a loader's error)."""
    meta = getattr(doc, "meta", None) or {}
    return {str(p["id"]) for p in meta.get("pictures") or [] if isinstance(p, dict) and "id" in p}


def unpin(doc: Any) -> None:
    """The document is committed or failed: its pictures are no longer protected by its pin."""
    meta = getattr(doc, "meta", None)
    pin = meta.pop(PIN_KEY, None) if isinstance(meta, dict) else None
    if pin:
        Path(pin).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would end the process there: only the age rule applies
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process, or no such check here: taken as alive
        return True
    return True


def pinned(folder: Path) -> set[str]:
    """The pictures of files being added (their pins); stale pins are removed."""
    out: set[str] = set()
    pins = _pins(folder)
    if not pins.is_dir():
        return out
    for pin in pins.iterdir():
        if pin.name.startswith("."):  # the lock
            continue
        try:
            pid = int(pin.name.partition("-")[0])
            stale = time.time() - pin.stat().st_mtime > PIN_STALE_S or not _alive(pid)
        except (ValueError, OSError):
            stale = True
        if stale:
            pin.unlink(missing_ok=True)
            continue
        try:
            out.update(line for line in pin.read_text().split() if IMAGE_ID.fullmatch(line))
        except OSError:
            continue
    return out


def stored_pictures(folder: Path) -> dict[str, Path]:
    """Every picture file of the folder by id (a ``.part`` file a crash left: by its own name)."""
    if not folder.is_dir():
        return {}
    out: dict[str, Path] = {}
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.is_file():
            continue
        stem = path.name.split(".", 1)[0]
        out[stem if IMAGE_ID.fullmatch(stem) and not path.name.endswith(".part") else path.name] = path
    return out


def drop_pictures(folder: Path, candidates: Iterable[str], shown: Callable[[], set[str]]) -> list[str]:
    """Remove the pictures among ``candidates`` that no chunk shows (``shown()``: the ids the KB's
    chunks show, asked after the change that may have freed them) and no file being added has
    pinned. Returns the ids removed."""
    wanted = {c for c in candidates if IMAGE_ID.fullmatch(c)}
    if not wanted or not folder.is_dir():
        return []
    gone: list[str] = []
    with folder_lock(_pins(folder), exclusive=True):
        keep = shown() | pinned(folder)
        for image_id in sorted(wanted - keep):
            path = picture_path(folder, image_id)
            if path is not None:
                path.unlink(missing_ok=True)
                gone.append(image_id)
    if gone:
        log.info("removed %d picture(s) no chunk shows any more from %s", len(gone), folder)
    return gone


def picture_problems(folder: Path, shown: Callable[[], set[str]], repair: bool) -> list[str]:
    """``zhiku kb check``: pictures stored that no chunk of the KB shows (and no file being added
    has pinned); with ``repair`` they are removed."""
    if not folder.is_dir():
        return []
    with folder_lock(_pins(folder), exclusive=True):
        keep = shown() | pinned(folder)
        orphans = {k: p for k, p in stored_pictures(folder).items() if k not in keep}
        if repair:
            for path in orphans.values():
                path.unlink(missing_ok=True)
    if not orphans:
        return []
    n = len(orphans)
    return [f"{n} stored picture{'s' if n > 1 else ''} shown by no chunk (left by removed or failed files)"
            + f": {', '.join(k[:16] for k in sorted(orphans)[:3])}" + (" ..." if n > 3 else "")]
