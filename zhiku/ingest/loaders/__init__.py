"""Document loaders: one entry point, ``load_file``, that turns any supported file into blocks.

How a loader is picked
----------------------
1. The extension picks the loader: the stored path's suffix, or, when it has none, the
   suffix of ``filename`` (the name the user uploaded). Unknown extension →
   ``UnsupportedFormat`` listing the supported ones.
2. The first bytes are sniffed (``sniff.py``) and must agree with the extension:

   * A *binary* format's extension (.pdf .docx .pptx .xlsx .xls .epub) is a specific
     claim. If the bytes are something else (a PDF named .docx, a zip named .pdf,
     text named .pdf) → ``UnsupportedFormat`` naming the file and what it looks like.
     An encrypted Office file (.docx/.xlsx/.pptx stored in an encrypted OLE container)
     → ``LoadError("password-protected ...")``. One exception: an .xls that is really
     an HTML table or CSV (the "Excel export" of many web apps, which Excel opens too)
     is loaded as HTML or CSV.
   * A *text* format's extension (.txt .md .csv .html .json .eml, code...) claims only
     "text". If the bytes carry the unambiguous signature of a binary format we read
     (a PDF, a docx/xlsx/pptx, an EPUB), that format wins and the file is loaded with
     its loader (``meta["detected_as"]`` records it). Any other binary content (junk,
     images, archives, legacy .doc) → ``UnsupportedFormat``. Text *content* never
     overrides a text extension: HTML in a .txt is loaded as text.
   * No extension at all: the content decides (a binary format we read, or text).
3. A file of the right type that cannot be read (damaged, password-protected, empty)
   → ``LoadError`` with the reason; no library exception escapes. A file that yields
   no text → ``LoadError("... no text found ...")``.

Every error message starts with the file's name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from zhiku.errors import LoadError, NotFound, UnsupportedFormat, ZhikuError
from zhiku.ingest.loaders import (  # noqa: F401  (importing registers the built-in loaders)
    epub,
    html,
    images,
    mail,
    markup,
    odf,
    pdf,
    rtf,
    sheets,
    slides,
    structured,
    text,
    word,
)
from zhiku.ingest.loaders.base import (
    Block,
    LoadedDocument,
    Loader,
    LoaderSpec,
    declared,
    register,
    registered,
    spec_for_extension,
    unsupported,
)
from zhiku.ingest.loaders.encoding import decode_bytes
from zhiku.ingest.loaders.limits import LoadLimits, check_unpacked, loading
from zhiku.ingest.loaders.sniff import HEAD_SIZE, Sniffed, sniff_file

if TYPE_CHECKING:
    from zhiku.plugins import Registry

__all__ = [
    "Block",
    "LoadLimits",
    "LoadedDocument",
    "Loader",
    "LoaderSpec",
    "decode_bytes",
    "load_file",
    "register",
    "registered",
    "supported_extensions",
]

log = logging.getLogger(__name__)

# loaders of binary formats; each is named after the kind sniff_file gives its files
_BINARY = frozenset({"pdf", "docx", "pptx", "xlsx", "xls", "epub", "image"})
# loaders of formats the sniffer knows by another kind name (all .odt/.ods/.odp are "odf")
_OPEN_FORMATS = {"rtf": "rtf", "odt": "odf", "ods": "odf", "odp": "odf"}
_OFFICE_NAMES = {"docx": "Word", "xlsx": "Excel", "pptx": "PowerPoint", "xls": "Excel"}
_FORMAT_NAMES = {
    "pdf": "a PDF", "docx": "a Word document", "pptx": "a PowerPoint presentation",
    "xlsx": "an Excel workbook", "xls": "an Excel 97-2003 workbook", "epub": "an EPUB e-book",
    "image": "a picture",
    "rtf": "an RTF document", "odt": "an OpenDocument text", "ods": "an OpenDocument spreadsheet",
    "odp": "an OpenDocument presentation",
    "csv": "CSV", "html": "HTML", "json": "JSON", "jsonl": "JSON Lines",
    "ipynb": "a Jupyter notebook", "eml": "an e-mail message",
}
_HINTS = {
    "image": "pictures are read with OCR: save it as .png, .jpg, .bmp, .tiff or .webp",
    "doc": "save it as .docx (Word or LibreOffice) and upload that",
    "ppt": "save it as .pptx and upload that",
    "msg": "save the message as .eml and upload that",
    "rtf": "save it as .docx and upload that",
    "odf": "save it in the matching Microsoft Office format (.docx/.xlsx/.pptx)",
    "zip": "unpack it and upload the files inside",
    "archive": "unpack it and upload the files inside",
}


def register_backends(registry: "Registry") -> None:
    """zhiku's own loaders, as a plugin registers its: one ``LoaderSpec`` each."""
    for spec in declared():
        registry.add("loader", spec.name, spec)


def supported_extensions() -> list[str]:
    """Every extension some registered loader reads, sorted (".csv", ".docx", ...)."""
    return sorted({e for s in registered().values() for e in s.extensions})


def _ours(spec: LoaderSpec) -> bool:
    return spec.load.__module__.startswith(__name__ + ".")


def _unsupported(name: str, why: str) -> UnsupportedFormat:
    return unsupported(Path(name), why)


def _mismatch(name: str, ext: str, seen: Sniffed) -> UnsupportedFormat:
    why = f"the name says '{ext}' but the content is {seen.label}"
    if seen.kind in _BINARY:
        why += f"; rename it to .{seen.kind}"
    elif seen.kind in _HINTS:
        why += f"; {_HINTS[seen.kind]}"
    return UnsupportedFormat(f"{name}: {why}", file=name, detected=seen.kind)


def _choose(path: Path, name: str, ext: str, seen: Sniffed) -> tuple[LoaderSpec, bool]:
    """The loader for this file, and whether the content overrode the extension."""
    specs = registered()
    spec = spec_for_extension(ext) if ext else None
    if spec is None:
        if ext:
            hint = ""
            if seen.kind not in ("text", "binary", "empty"):
                hint = f" (it looks like {seen.label}"
                hint += f"; {_HINTS[seen.kind]})" if seen.kind in _HINTS else ")"
            raise _unsupported(name, f"no loader reads '{ext}' files{hint}")
        if seen.kind in _BINARY:
            return specs[seen.kind], True
        if seen.kind == "text":
            return specs["text"], False
        if seen.kind == "empty":
            raise LoadError(f"{name}: the file is empty", file=name)
        raise _unsupported(name, f"it has no extension and its content is {seen.label}")
    if seen.kind == "empty":
        raise LoadError(f"{name}: the file is empty", file=name)
    if _OPEN_FORMATS.get(spec.name) == seen.kind:  # RTF and OpenDocument, sniffed as such
        return spec, False
    if spec.name in _BINARY:
        if seen.kind == spec.name or (spec.name == "xls" and seen.kind == "ole"):
            return spec, False
        if seen.kind == "encrypted" and spec.name in _OFFICE_NAMES:
            raise LoadError(
                f"{name}: password-protected {_OFFICE_NAMES[spec.name]} file; "
                "remove the password and upload it again",
                file=name,
                reason="encrypted",
            )
        if spec.name == "xls" and seen.kind == "text" and seen.label != "an XML file":
            # web apps often export HTML tables or CSV named .xls; Excel opens those too
            target = "html" if seen.label == "an HTML page" else "csv"
            log.info("%s: named .xls but it is %s; loading it as %s", name, seen.label, target)
            return specs[target], True
        if seen.kind == "zip-damaged" and spec.name in ("docx", "pptx", "xlsx", "epub"):
            raise LoadError(f"{name}: the file is damaged (its zip container is broken)", file=name)
        raise _mismatch(name, ext, seen)
    if not _ours(spec):
        if spec.sniff is not None:
            with path.open("rb") as fh:
                if not spec.sniff(fh.read(HEAD_SIZE)):
                    raise _mismatch(name, ext, seen)
        return spec, False
    if seen.kind == "text":
        return spec, False
    if seen.kind in _BINARY and seen.kind != "image":  # a picture is never text's stand-in
        log.warning("%s: named %s but it is %s; loading it as such", name, ext, seen.label)
        return specs[seen.kind], True
    raise _mismatch(name, ext, seen)


def _tidy(blocks: list[Block]) -> list[Block]:
    out = []
    for b in blocks:
        b.text = b.text.strip("\n").rstrip() if b.kind == "code" else b.text.strip()
        if b.text:
            out.append(b)
    return out


def load_file(path: Path, filename: str | None = None, *, limits: LoadLimits | None = None,
              cancelled: Callable[[], bool] | None = None) -> LoadedDocument:
    """Load one file into blocks; see the module docstring for how the loader is picked.

    ``filename`` is the user's original name: it supplies the extension when ``path`` has
    none and names the file in error messages. ``limits`` bound what its compressed parts may
    unpack to (``limits.py``; a decompression bomb is a ``LoadError``); once ``cancelled()`` is
    true the load stops at its next checkpoint with ``Cancelled``. Raises ``UnsupportedFormat``,
    ``LoadError``, ``NotFound`` or ``Cancelled``, never a library's own exception.
    """
    path = Path(path)
    name = Path(filename).name if filename else path.name
    ext = (path.suffix or Path(name).suffix).lower()
    if not path.exists():
        raise NotFound(f"{name}: file not found", file=name)
    if not path.is_file():
        raise LoadError(f"{name}: not a regular file", file=name)
    try:
        seen = sniff_file(path)
    except OSError as e:
        raise LoadError(f"{name}: cannot read the file ({e.strerror or e})", file=name) from e
    spec, switched = _choose(path, name, ext, seen)
    try:
        with loading(limits, cancelled):
            check_unpacked(spec.name, path)
            doc = spec.load(path)
    except (LoadError, UnsupportedFormat) as e:
        if e.message.startswith(f"{name}:"):
            raise
        raise type(e)(f"{name}: {e.message}", **{**e.details, "file": name}) from e
    except ZhikuError:
        raise
    except MemoryError as e:
        raise LoadError(f"{name}: the file is too large to load", file=name) from e
    except Exception as e:  # noqa: BLE001 - a library failing on a bad file is a LoadError
        log.debug("loader %s failed on %s", spec.name, name, exc_info=True)
        detail = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        what = f"{type(e).__name__}: {detail}" if detail else type(e).__name__
        raise LoadError(
            f"{name}: cannot read it as {_FORMAT_NAMES.get(spec.name, spec.name)}; "
            f"the file may be damaged ({what})",
            file=name,
        ) from e
    doc.blocks = _tidy(doc.blocks)
    if not doc.blocks:
        raise LoadError(f"{name}: no text found in the file", file=name, reason="no_text")
    doc.meta.setdefault("format", spec.name)
    if switched:
        doc.meta["detected_as"] = seen.kind
    return doc
