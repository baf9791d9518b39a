"""RTF (.rtf): the text, paragraph by paragraph, through striprtf.

Word, WordPad and LibreOffice write non-ASCII text either as ``\\uN`` escapes (read as is) or as
``\\'xx`` bytes of the document's code page (``\\ansicpgNNNN``: 936 for simplified Chinese, 1252
for Western text), which is decoded with that code page. RTF has no reliable heading markup
(styles are numbers defined in a style sheet), so every paragraph is a text block.
"""

from __future__ import annotations

import re
from pathlib import Path

from zhiku.errors import LoadError
from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.encoding import clean_text
from zhiku.ingest.loaders.limits import checkpoint

_CODE_PAGE = re.compile(rb"\\ansicpg(\d+)")


def _encoding(head: bytes) -> str:
    m = _CODE_PAGE.search(head)
    if m is None:
        return "cp1252"
    name = f"cp{int(m.group(1))}"
    try:
        "".encode(name)
    except LookupError:
        return "cp1252"
    return name


@register("rtf", (".rtf",))
def load_rtf(path: Path) -> LoadedDocument:
    from striprtf.striprtf import rtf_to_text

    data = path.read_bytes()
    if not data.lstrip().startswith(b"{\\rtf"):
        raise LoadError("not an RTF document (it does not start with {\\rtf)")
    encoding = _encoding(data[:4096])
    checkpoint()
    text: str = rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")  # type: ignore[no-untyped-call]  # striprtf has no annotations
    blocks = []
    for para in re.split(r"\n\s*\n|\n", text):
        para = clean_text(para).strip()
        if para:
            blocks.append(Block(para))
    return LoadedDocument(blocks=blocks, meta={"encoding": encoding})
