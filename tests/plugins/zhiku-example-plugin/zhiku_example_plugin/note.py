"""The ``.note`` format (made up for this example)::

    NOTE/1 title: Leave policy
    == Annual leave ==
    Employees get 15 days a year.

    == Sick leave ==
    Up to 10 days with a doctor's note.

The first line is the header; ``== ... ==`` lines open a section; paragraphs are separated by
blank lines.
"""

from __future__ import annotations

from pathlib import Path

from zhiku.errors import LoadError
from zhiku.ingest.loaders.base import Block, LoadedDocument

MAGIC = b"NOTE/1"


def looks_like_note(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf").startswith(MAGIC)


def load_note(path: Path) -> LoadedDocument:
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    if not lines or not lines[0].startswith("NOTE/1"):
        raise LoadError(f"{path.name}: not a NOTE/1 file (no header line)")
    title = lines[0].partition("title:")[2].strip() or None
    blocks: list[Block] = []
    section: tuple[str, ...] = ()
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block(" ".join(paragraph), section=section))
            paragraph.clear()

    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("==") and stripped.endswith("==") and len(stripped) > 4:
            flush()
            heading = stripped.strip("=").strip()
            section = (heading,)
            blocks.append(Block(heading, kind="heading", section=section))
        elif not stripped:
            flush()
        else:
            paragraph.append(stripped)
    flush()
    return LoadedDocument(blocks=blocks, title=title, meta={"note_version": 1})
