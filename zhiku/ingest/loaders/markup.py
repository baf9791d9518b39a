"""reStructuredText and Org files: their headings become section paths, the rest paragraphs
(``text.paragraph_blocks``)."""

from __future__ import annotations

import re
from pathlib import Path

from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.text import SectionStack, paragraph_blocks, read_text

# ---------------------------------------------------------------- rst and org

_ADORN = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")


def _rst_blocks(text: str) -> tuple[list[Block], str | None]:
    lines = text.split("\n")
    styles: list[tuple[str, bool]] = []
    sections = SectionStack()
    blocks: list[Block] = []
    para: list[str] = []
    title = None

    def flush() -> None:
        if para:
            blocks.extend(paragraph_blocks("\n".join(para), sections.path))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        over = bool(_ADORN.match(line)) and i + 2 < len(lines) and bool(_ADORN.match(lines[i + 2]))
        heading = None
        if over and lines[i + 1].strip() and not _ADORN.match(lines[i + 1]):
            heading, style, step = lines[i + 1].strip(), (line.strip()[0], True), 3
        elif (
            line.strip()
            and not _ADORN.match(line)
            and _ADORN.match(nxt)
            and len(nxt.strip()) >= len(line.strip())
            and not (para and para[-1].strip())
        ):
            heading, style, step = line.strip(), (nxt.strip()[0], False), 2
        if heading:
            flush()
            if style not in styles:
                styles.append(style)
            level = styles.index(style) + 1
            path = sections.push(level, heading)
            blocks.append(Block(heading, kind="heading", section=path))
            title = title or (heading if level == 1 else None)
            i += step
            continue
        para.append(line)
        i += 1
    flush()
    return blocks, title


_ORG_HEADING = re.compile(r"^(\*+)\s+(.*?)\s*$")
_ORG_KEYWORD = re.compile(r"^#\+(\w+):\s*(.*)$")


def _org_blocks(text: str) -> tuple[list[Block], str | None]:
    sections = SectionStack()
    blocks: list[Block] = []
    para: list[str] = []
    title = None
    code: list[str] | None = None
    lang = ""

    def flush() -> None:
        if para:
            blocks.extend(paragraph_blocks("\n".join(para), sections.path))
            para.clear()

    for line in text.split("\n"):
        low = line.strip().lower()
        if code is not None:
            if low.startswith("#+end_src") or low.startswith("#+end_example"):
                body = "\n".join(code).strip("\n")
                if body.strip():
                    meta = {"lang": lang} if lang else {}
                    blocks.append(Block(body, kind="code", section=sections.path, meta=meta))
                code = None
            else:
                code.append(line)
            continue
        if low.startswith("#+begin_src") or low.startswith("#+begin_example"):
            flush()
            parts = line.split()
            lang = parts[1] if len(parts) > 1 and low.startswith("#+begin_src") else ""
            code = []
            continue
        m = _ORG_HEADING.match(line)
        if m and m.group(2):
            flush()
            path = sections.push(len(m.group(1)), m.group(2))
            blocks.append(Block(m.group(2), kind="heading", section=path))
            continue
        kw = _ORG_KEYWORD.match(line.strip())
        if kw:
            if kw.group(1).lower() == "title":
                title = kw.group(2).strip() or title
            continue
        para.append(line)
    flush()
    return blocks, title


@register("rst", (".rst", ".rest"))
def load_rst(path: Path) -> LoadedDocument:
    blocks, title = _rst_blocks(read_text(path))
    return LoadedDocument(blocks, title=title)


@register("org", (".org",))
def load_org(path: Path) -> LoadedDocument:
    blocks, title = _org_blocks(read_text(path))
    return LoadedDocument(blocks, title=title)
