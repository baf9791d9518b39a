"""OCR with rapidocr-onnxruntime (optional extra ``zhiku[ocr]``; it ships its Chinese/English models).

``ocr_image`` turns a picture into ``Seg``s (one per detected text line, pixel
coordinates); ``ocr_blocks`` lays them out like a PDF page (rows, columns,
paragraphs, ruled tables) and returns blocks marked ``meta["ocr"] = True`` with the
mean recognition confidence in ``meta["ocr_confidence"]``.

Lines the models find but cannot read (recognition confidence under ``UNREADABLE_SCORE``:
a script they do not know, such as Korean, which comes out as Chinese junk, or faint print)
are not indexed; they are counted, and ``unreadable_note`` says so in the file's outcome.

The engine is created once per process and shared (calls are serialised by a lock:
onnxruntime already uses every core for one image). When the package is missing,
``require_ocr`` raises ``MissingDependency`` naming the extra to install.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from zhiku.errors import MissingDependency
from zhiku.ingest.loaders.base import Block
from zhiku.ingest.loaders.pdf_layout import Seg, layout_blocks

log = logging.getLogger(__name__)

_ENGINE: Any = None
_LOCK = threading.Lock()
#: images smaller than this (either side, pixels) are icons or rules, not text worth reading
MIN_SIDE = 32
#: pictures inside documents are OCR'd only from this size (pixels, both sides)
MIN_EMBEDDED_SIDE = 200
MAX_SIDE = 2400


def ocr_available() -> bool:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken install counts as missing
        return False
    return os.environ.get("ZHIKU_DISABLE_OCR", "") not in ("1", "true", "yes")


def require_ocr(purpose: str) -> None:
    if not ocr_available():
        raise MissingDependency("rapidocr-onnxruntime", extra="ocr", purpose=purpose)


def _engine() -> Any:
    global _ENGINE
    if _ENGINE is None:
        from rapidocr_onnxruntime import RapidOCR

        threads = int(os.environ.get("ZHIKU_OCR_THREADS", "0") or 0)
        kwargs: dict[str, Any] = {}
        if threads > 0:
            kwargs = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        _ENGINE = RapidOCR(**kwargs)
    return _ENGINE


def _to_array(image: Any) -> Any:
    import numpy as np
    from PIL import Image

    if not isinstance(image, Image.Image):
        return image
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.split()[-1])
        image = background
    if image.mode == "L":
        image = image.convert("RGB")
    scale = MAX_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((int(image.width * scale), int(image.height * scale)))
    return np.asarray(image)[:, :, ::-1].copy()  # RGB -> BGR, as OpenCV expects


def is_blank(image: Any) -> bool:
    """True for a (nearly) uniform picture: a blank scanned page, a colour fill."""
    import numpy as np

    arr = np.asarray(image.convert("L") if hasattr(image, "convert") else image, dtype=np.float32)
    if arr.size == 0:
        return True
    small = arr[:: max(1, arr.shape[0] // 300), :: max(1, arr.shape[1] // 300)]
    return float(small.std()) < 4.0


#: a recognised line under this confidence is junk: a script the Chinese/English models do not
#: know (Korean, read as "口是晨品用员" at 0.54 or as nothing) or print too faint to read
UNREADABLE_SCORE = 0.7


class OcrLines(list[Seg]):
    """The lines OCR read, and how many lines it found but could not read (``unreadable``)."""

    unreadable: int = 0


def ocr_image(image: Any) -> OcrLines:
    """Text lines of a PIL image (or BGR array), in pixel coordinates, unordered; lines found
    but read under ``UNREADABLE_SCORE`` are left out and counted in ``.unreadable``."""
    segs = OcrLines()
    arr = _to_array(image)
    if min(arr.shape[:2]) < MIN_SIDE:
        return segs
    engine = _engine()
    with _LOCK:  # every line, however poorly read (rapidocr's own defaults otherwise)
        result, _ = engine(arr, text_score=0.0, box_thresh=0.5, unclip_ratio=1.6)
    for box, text, score in result or []:
        text = " ".join(str(text).split())
        if not text or float(score) < UNREADABLE_SCORE:
            segs.unreadable += 1
            continue
        xs = [p[0] for p in box]
        ys = [p[1] for p in box]
        top, bottom = min(ys), max(ys)
        segs.append(
            Seg(text, min(xs), top, max(xs), bottom, size=bottom - top, score=float(score))
        )
    return segs


def _grid_lines(image: Any) -> tuple[list[float], list[float]] | None:
    """Ruled table lines of a picture (y of horizontal rules, x of vertical ones), via OpenCV."""
    try:
        import cv2
        import numpy as np
    except Exception:  # noqa: BLE001
        return None
    arr = _to_array(image)
    gray = cv2.cvtColor(arr, cv2.COLOR_BGR2GRAY)
    bw = cv2.adaptiveThreshold(~gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 15, -2)
    h, w = bw.shape
    horiz = cv2.morphologyEx(bw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(20, w // 12), 1)))
    vert = cv2.morphologyEx(bw, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(20, h // 30))))

    def runs(mask: Any) -> list[tuple[int, int]]:
        """(start, end) of the runs of True in a 1-d mask, merging gaps of up to 3."""
        idx = np.where(mask)[0]
        out: list[list[int]] = []
        for i in idx:
            if out and i - out[-1][1] <= 3:
                out[-1][1] = int(i)
            else:
                out.append([int(i), int(i)])
        return [(a, b) for a, b in out]

    # vertical rules (away from the picture's edges) give the table's extent
    verticals: list[tuple[float, int, int]] = []
    for a, b in runs((vert > 0).sum(axis=0) >= h * 0.04):
        if a < w * 0.02 or b > w * 0.98:
            continue
        rows_on = np.where((vert[:, a : b + 1] > 0).any(axis=1))[0]
        verticals.append(((a + b) / 2, int(rows_on.min()), int(rows_on.max())))
    if len(verticals) < 2:
        return None
    # the largest group of verticals that overlap in height is the table
    verticals.sort(key=lambda v: v[1])
    top, bottom = verticals[0][1], verticals[0][2]
    group = [verticals[0]]
    for v in verticals[1:]:
        if v[1] <= bottom + 5:
            group.append(v)
            bottom = max(bottom, v[2])
        elif len(group) < 3:
            group, top, bottom = [v], v[1], v[2]
    xs = sorted(v[0] for v in group)
    left, right = xs[0], xs[-1]
    ys: list[float] = []
    for a, b in runs((horiz[:, int(left) : int(right) + 1] > 0).sum(axis=1) >= (right - left) * 0.3):
        y = (a + b) / 2
        if top - 5 <= y <= bottom + 5:
            ys.append(y)
    if len(ys) < 3 or len(xs) < 3:
        return None
    ys[0], ys[-1] = min(ys[0], top), max(ys[-1], bottom)
    scale = 1.0
    if hasattr(image, "size") and max(image.size) > MAX_SIDE:
        scale = max(image.size) / MAX_SIDE
    return [y * scale for y in ys], [x * scale for x in xs]


def ocr_blocks(
    image: Any, *, page: int | None = None, section: tuple[str, ...] = (),
    meta: dict[str, Any] | None = None, tables: bool = True, doc_meta: dict[str, Any] | None = None,
) -> list[Block]:
    """OCR one picture into blocks in reading order (``meta["ocr"] = True``); lines it could
    not read are counted in ``doc_meta`` when given (``mark_unreadable``)."""
    segs = ocr_image(image)
    if doc_meta is not None:
        mark_unreadable(doc_meta, segs, page)
    if not segs:
        return []
    grid = _grid_lines(image) if tables else None
    width = float(image.size[0]) if hasattr(image, "size") else float(image.shape[1])
    blocks = layout_blocks(segs, width=width, page=page, section=section, grid=grid,
                           size_tolerance=0.35)
    for b in blocks:
        scores = b.meta.pop("_scores", None)
        b.meta.update(meta or {})
        b.meta["ocr"] = True
        if scores:
            b.meta["ocr_confidence"] = round(sum(scores) / len(scores), 3)
    return blocks


def embedded_image_blocks(
    blob: bytes, *, name: str = "", page: int | None = None, section: tuple[str, ...] = ()
) -> list[Block]:
    """OCR a picture found inside a document (docx, pptx) when it is big enough to hold
    text; small pictures (icons, logos) and unreadable ones give nothing."""
    import io

    from PIL import Image

    try:
        img = Image.open(io.BytesIO(blob))
        img.load()
    except Exception:  # noqa: BLE001 - a picture format Pillow cannot read (emf, wmf...)
        return []
    if min(img.size) < MIN_EMBEDDED_SIDE or is_blank(img):
        return []
    try:
        return ocr_blocks(img, page=page, section=section, meta={"image": name} if name else None)
    except Exception:
        log.warning("OCR failed on embedded picture %s", name, exc_info=True)
        return []


def unreadable_note(doc: Any) -> str:
    """What the per-file outcome says about text OCR could not read ('' when none)."""
    meta = getattr(doc, "meta", None) or {}
    pages = meta.get("pages_unreadable") or []
    lines = int(meta.get("ocr_unreadable_lines") or 0)
    if not pages and not lines:
        return ""
    where = f" (page{'s' if len(pages) > 1 else ''} {', '.join(map(str, pages[:5]))}" + (
        ", ..." if len(pages) > 5 else "") + " unreadable)" if pages else ""
    return (f"; {lines} line{'s' if lines != 1 else ''} OCR could not read{where}: a script its "
            "Chinese/English models do not know (such as Korean) or faint print; not indexed")


def mark_unreadable(meta: dict[str, Any], lines: OcrLines | list[Seg], page: int | None = None) -> None:
    """Count a picture's or page's unreadable lines in a document's meta; a page of which
    next to nothing was read is listed in ``meta["pages_unreadable"]``."""
    bad = getattr(lines, "unreadable", 0)
    if not bad:
        return
    meta["ocr_unreadable_lines"] = int(meta.get("ocr_unreadable_lines", 0)) + bad
    if bad >= 4 * len(lines):  # next to nothing read
        meta.setdefault("pages_unreadable", []).append(page if page is not None else 1)
