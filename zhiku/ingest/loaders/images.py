"""Pictures (png, jpg, bmp, tiff, webp): text by OCR (``zhiku[ocr]``), blocks with ``meta["ocr"]``.

Every frame of a multi-page TIFF is a page. Without the OCR extra, loading a picture
raises ``MissingDependency`` naming the extra to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zhiku.errors import LoadError
from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.ocr import is_blank, ocr_blocks, require_ocr

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MAX_FRAMES = 500


@register("image", IMAGE_EXTENSIONS)
def load_image(path: Path) -> LoadedDocument:
    require_ocr(f"reading the text of the picture {path.name}")
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        img = Image.open(path)
    except (UnidentifiedImageError, OSError) as e:
        raise LoadError(f"the picture cannot be decoded ({e})") from e
    blocks: list[Block] = []
    read: dict[str, Any] = {}  # lines OCR could not read (a script it does not know: Korean)
    frames = getattr(img, "n_frames", 1) or 1
    multi = frames > 1
    for i in range(min(frames, MAX_FRAMES)):
        img.seek(i)
        frame = ImageOps.exif_transpose(img.copy())
        if is_blank(frame):
            continue
        blocks.extend(ocr_blocks(frame, page=i + 1 if multi else None, doc_meta=read))
    if not blocks and read.get("ocr_unreadable_lines"):
        raise LoadError(f"no text could be read in the picture: OCR found {read['ocr_unreadable_lines']} "
                        "line(s) in a script its Chinese/English models do not know (such as Korean) "
                        "or too faint to read", reason="no_text")
    if not blocks:
        raise LoadError("no text found in the picture (OCR read nothing)", reason="no_text")
    meta: dict[str, Any] = {"ocr_pages": list(range(1, frames + 1)) if multi else [1], **read}
    return LoadedDocument(blocks, pages=frames if multi else None, meta=meta)
