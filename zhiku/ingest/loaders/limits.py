"""What loading one file may cost, and a way to stop it: decompression bombs and cancellation.

**Unpacked size.** A docx, xlsx, pptx or EPUB is a zip; a PDF holds Flate-compressed streams.
Either can be a few hundred kilobytes that unpack to gigabytes (a 1 MB docx whose
``word/document.xml`` inflated took a server from 103 MB to 2.1 GB). Before a loader's
library sees such a file, ``check_unpacked`` measures what it unpacks to, without unpacking it
into memory, and refuses it with a ``LoadError`` (reason ``unpacked_too_large``) when:

* zip formats: the parts' declared sizes add up past ``max_unpacked_bytes``, one part
  unpacks more than ``MAX_RATIO`` times its packed size to more than ``RATIO_FLOOR``, or the
  archive lists more than ``MAX_MEMBERS`` parts. The declared sizes are what a reader gets at
  most: Python's zipfile (which python-docx, openpyxl and python-pptx read with) stops inflating
  a part at its declared size and fails its CRC check, so a part that lies about its size is a
  damaged file, never a bigger one;
* PDF: its streams are inflated here in 1 MB steps, counting and dropping the output, until
  zlib's own end of stream (not the ``endstream`` keyword, which compressed data can contain):
  the streams other than pictures together, or any one stream, past ``max_unpacked_bytes``, or
  a non-picture stream past the ratio above. Pictures are left out of the total because PDFium
  decodes them only to OCR a scanned page, one page at a time.

**Cancellation.** ``load_file`` runs a loader inside ``loading(limits, cancelled)``; loaders
and the splitter call ``checkpoint()`` between pages, rows, paragraphs and blocks, which raises
``Cancelled`` once the job is cancelled, so a cancel takes effect while a long file is parsed.

**Other threads.** Parsing runs on a thread of the server's process. A thread that computes in
Python keeps the interpreter until the switch interval (5 ms) forces it to let go, and a request
on the event loop needs the interpreter back after each of its system calls (a dozen per request):
each of those waits then costs up to 5 ms, and a poll that takes 4 ms on an idle server took
100-180 ms while a 200 MB file was parsed. ``checkpoint()`` (and ``breathe()``, for loops that
need no cancel check) therefore also hand the interpreter over when another thread waits for it,
at most every ``BREATHE_S``, which bounds each of those waits to about that.
"""

from __future__ import annotations

import mmap
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from zhiku.errors import Cancelled, LoadError

__all__ = ["LoadLimits", "breathe", "check_unpacked", "checkpoint", "loading"]

MB = 1 << 20
#: a part unpacking more than this many times its packed size ...
MAX_RATIO = 200
#: ... to more than this is a bomb (real XML packs 5-30x, a sheet of one repeated value ~100x)
RATIO_FLOOR = 16 * MB
#: more parts than this and a zip is refused before its directory is read
MAX_MEMBERS = 50_000
_STEP = MB
#: how long a parsing thread computes before ``breathe()`` lets other threads take the interpreter
BREATHE_S = 0.001
_breathed = [0.0]  # when the interpreter was last handed over (any thread: a shared, racy hint is enough)


@dataclass(frozen=True)
class LoadLimits:
    """``max_unpacked_bytes``: setting ``ingest.max_unpacked_mb``, in bytes."""

    max_unpacked_bytes: int = 256 * MB


_current: ContextVar[tuple[LoadLimits, Callable[[], bool] | None]] = ContextVar(
    "zhiku_load_limits", default=(LoadLimits(), None))


@contextmanager
def loading(limits: LoadLimits | None, cancelled: Callable[[], bool] | None) -> Iterator[LoadLimits]:
    """Load files under these limits, stopping at the next ``checkpoint`` once ``cancelled()``
    is true; ``None`` keeps what an enclosing ``loading`` set (a mail attachment's own load)."""
    outer_limits, outer_cancelled = _current.get()
    chosen = limits or outer_limits
    token = _current.set((chosen, cancelled or outer_cancelled))
    try:
        yield chosen
    finally:
        _current.reset(token)


def current() -> LoadLimits:
    return _current.get()[0]


def checkpoint() -> None:
    """Raise ``Cancelled`` if the work this load belongs to was cancelled; let other threads run
    (``breathe``)."""
    cancelled = _current.get()[1]
    if cancelled is not None and cancelled():
        raise Cancelled("ingestion cancelled")
    breathe()


def breathe() -> None:
    """Hand the interpreter to the threads waiting for it (the API's event loop), when this thread
    has computed for ``BREATHE_S`` since the last time; a few tens of nanoseconds otherwise."""
    now = time.perf_counter()
    if now - _breathed[0] >= BREATHE_S:
        time.sleep(0)  # releases the GIL: a waiting thread takes it before this one goes on
        _breathed[0] = time.perf_counter()


def _mb(n: int) -> str:
    return f"{n / MB:.0f} MB" if n >= 10 * MB else f"{n / MB:.1f} MB"


def _refuse(why: str) -> LoadError:
    return LoadError(f"refused as a decompression bomb: {why}", reason="unpacked_too_large")


def _too_much(total: int, limit: int, what: str) -> LoadError:
    return _refuse(f"{what} unpack to more than {_mb(limit)} (the ingest.max_unpacked_mb setting), "
                   f"{_mb(total)} counted so far")


def _member_count(path: Path) -> int | None:
    """The number of parts the zip's end record announces, read before its directory."""
    try:
        with path.open("rb") as fh:
            end = zipfile._EndRecData(fh)  # type: ignore[attr-defined]  # stdlib, stable since 2.x
    except OSError:
        return None
    return int(end[4]) if end else None  # _ECD_ENTRIES_TOTAL


def check_zip(path: Path, limits: LoadLimits) -> None:
    count = _member_count(path)
    if count is not None and count > MAX_MEMBERS:
        raise _refuse(f"the archive lists {count:,} parts (at most {MAX_MEMBERS:,})")
    total = 0
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            checkpoint()
            size, packed = info.file_size, max(info.compress_size, 1)
            if size > RATIO_FLOOR and size > MAX_RATIO * packed:
                raise _refuse(f"its part '{info.filename[:200]}' unpacks {size // packed:,} times its size "
                              f"({_mb(packed)} to {_mb(size)})")
            total += size
            if total > limits.max_unpacked_bytes:
                raise _too_much(total, limits.max_unpacked_bytes, "its parts")


_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")


def _inflated_size(mm: mmap.mmap, start: int, stop_after: int) -> tuple[int, int]:
    """Bytes the zlib stream at ``start`` inflates to (counting stops past ``stop_after``) and where
    its compressed data ends; (0, start) when it is not zlib data."""
    d = zlib.decompressobj()
    out, pos, step = 0, start, 4096  # small first reads: most streams that are not zlib fail at once
    try:
        while pos < len(mm) and not d.eof:
            chunk = mm[pos: pos + step]
            pos += len(chunk)
            step = min(step * 4, _STEP)
            while chunk:
                out += len(d.decompress(chunk, _STEP))
                if out > stop_after or d.eof:
                    return out, pos - len(d.unused_data)
                chunk = d.unconsumed_tail
    except zlib.error:
        pass
    return out, pos


def check_pdf(path: Path, limits: LoadLimits) -> None:
    limit = limits.max_unpacked_bytes
    total = 0
    with path.open("rb") as fh:
        if path.stat().st_size == 0:
            return
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos = 0
            while (m := _STREAM.search(mm, pos)) is not None:
                checkpoint()
                start = m.end()
                head = mm[max(0, m.start() - 4096): m.start()]
                head = head[head.rfind(b"obj"):] if b"obj" in head else head
                if b"Decode" in head and b"FlateDecode" not in head:
                    pos = start  # another filter only (pictures as JPEG, CCITT...): nothing to inflate
                    continue
                size, end = _inflated_size(mm, start, limit)
                pos = max(end, start)
                packed = max(end - start, 1)
                if _IMAGE.search(head):
                    if size > limit:
                        raise _refuse(f"a picture in it unpacks to more than {_mb(limit)} "
                                      "(the ingest.max_unpacked_mb setting)")
                    continue
                if size > RATIO_FLOOR and size > MAX_RATIO * packed:
                    raise _refuse(f"a stream in it unpacks more than {size // packed:,} times its size "
                                  f"({_mb(packed)} to {_mb(size)})")
                total += size
                if total > limit:
                    raise _too_much(total, limit, "its compressed streams")


_CHECKS: dict[str, Callable[[Path, LoadLimits], None]] = {
    "docx": check_zip, "xlsx": check_zip, "pptx": check_zip, "epub": check_zip, "pdf": check_pdf,
}


def check_unpacked(kind: str, path: Path, limits: LoadLimits | None = None) -> None:
    """Refuse a file of this kind ("docx", "pdf"...) whose compressed parts unpack past the limits."""
    check = _CHECKS.get(kind)
    if check is not None:
        check(path, limits or current())
