"""Plain text, Markdown and source code (reStructuredText and Org: ``markup.py``).

Headings become section paths; fenced or source code becomes ``kind="code"``
blocks with ``meta["lang"]``. Paragraphs (blank-line separated) are blocks; a
paragraph too long to be one (a novel with no blank lines) is cut at line ends.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.encoding import decode_bytes
from zhiku.ingest.loaders.limits import breathe, checkpoint

__all__ = ["SectionStack", "decode_bytes", "markdown_blocks", "paragraph_blocks", "read_text"]

MAX_PARAGRAPH = 2000
_GROUP = 1000
_CODE_GROUP = 1500


class SectionStack:
    """The heading path at the current point of a document."""

    def __init__(self, base: tuple[str, ...] = ()) -> None:
        self.base = base
        self._stack: list[tuple[int, str]] = []

    def push(self, level: int, title: str) -> tuple[str, ...]:
        if not self._stack and self.base and title == self.base[-1]:
            return self.path  # a chapter's own heading repeating the chapter title
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return self.base + tuple(t for _, t in self._stack)


def read_text(path: Path) -> str:
    return decode_bytes(path.read_bytes(), clean=True)


_SENTENCE_END = re.compile(r"(?<=[。！？；!?;.])")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_NOT_SPACE = re.compile(r"\S")
# a long text is searched for paragraph breaks this many characters at a time: one regex call over a
# 200 MB text holds the interpreter (and every other thread, the API's included) for a long moment
WINDOW = 1 << 20


def _lines(text: str, size: int, lo: int = 0, hi: int | None = None) -> list[str]:
    """The lines of ``text[lo:hi]``, a line much longer than ``size`` cut after sentence ends. Read
    line by line (not one ``split`` over a paragraph that may be a whole 200 MB file)."""
    hi = len(text) if hi is None else hi
    out: list[str] = []
    pos = lo
    while pos <= hi:
        breathe()
        nl = text.find("\n", pos, hi)
        end = hi if nl < 0 else nl
        line = text[pos:end]
        pos = end + 1
        if len(line) <= 2 * size:
            out.append(line)
            continue
        cur = ""
        for sentence in _SENTENCE_END.split(line):
            while len(sentence) > 2 * size:  # no sentence end for a long way: hard cut
                out.append(cur + sentence[:size])
                cur, sentence = "", sentence[size:]
            if cur and len(cur) + len(sentence) > size:
                out.append(cur)
                cur = ""
            cur += sentence
        if cur:
            out.append(cur)
    return out


def _cut(text: str, size: int, lo: int = 0, hi: int | None = None) -> list[str]:
    """Group the lines of ``text[lo:hi]`` into pieces of about ``size`` characters."""
    pieces: list[str] = []
    cur: list[str] = []
    n = 0
    for line in _lines(text, size, lo, hi):
        if cur and n + len(line) > size:
            pieces.append("\n".join(cur))
            cur, n = [], 0
        cur.append(line)
        n += len(line) + 1
    if cur:
        pieces.append("\n".join(cur))
    return pieces


def paragraph_spans(text: str, window: int = WINDOW) -> Iterator[tuple[int, int]]:
    """(start, end) of each blank-line separated paragraph: the pieces of
    ``re.split(r"\\n[ \\t]*\\n", text)``, looked for ``window`` characters at a time."""
    pos = start = 0
    n = len(text)
    while True:
        stop = min(n, pos + window)
        m = _PARAGRAPH_BREAK.search(text, pos, stop)
        if m is not None:
            yield start, m.start()
            pos = start = m.end()
            continue
        if stop >= n:
            yield start, n
            return
        # none in this window: only a break that starts at its last line end can run past its end
        last = text.rfind("\n", pos, stop)
        m = _PARAGRAPH_BREAK.match(text, last) if last >= 0 else None
        if m is not None:
            yield start, m.start()
            start = m.end()
        pos = m.end() if m is not None else stop


def paragraph_blocks(
    text: str,
    section: tuple[str, ...] = (),
    *,
    page: int | None = None,
    meta: dict[str, Any] | None = None,
) -> list[Block]:
    """One block per blank-line separated paragraph (over-long ones cut at line ends)."""
    blocks = []
    for lo, hi in paragraph_spans(text):
        checkpoint()
        while lo < hi and text[lo] == "\n":  # para.strip("\n").rstrip(), without copying a long one
            lo += 1
        while hi > lo and text[hi - 1].isspace():
            hi -= 1
        if _NOT_SPACE.search(text, lo, hi) is None:
            continue
        parts = _cut(text, _GROUP, lo, hi) if hi - lo > MAX_PARAGRAPH else [text[lo:hi]]
        for part in parts:
            if part.strip():
                blocks.append(Block(part, section=section, page=page, meta=dict(meta or {})))
    return blocks


def _code_blocks(text: str, lang: str) -> list[Block]:
    """Code cut where a blank line is followed by an unindented line (top-level units)."""
    units: list[list[str]] = [[]]
    prev_blank = False
    for line in text.split("\n"):
        if prev_blank and line and not line[0].isspace() and any(x.strip() for x in units[-1]):
            units.append([])
        units[-1].append(line)
        prev_blank = not line.strip()
    blocks: list[Block] = []
    cur = ""
    for unit in ("\n".join(u).strip("\n") for u in units):
        if cur and len(cur) + len(unit) > _CODE_GROUP:
            blocks.append(Block(cur, kind="code", meta={"lang": lang}))
            cur = ""
        cur = f"{cur}\n\n{unit}" if cur else unit
    if cur.strip():
        blocks.append(Block(cur, kind="code", meta={"lang": lang}))
    return blocks


# ---------------------------------------------------------------- markdown

_PLAIN_INLINE = ("text", "code_inline", "softbreak")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def _front_matter(text: str) -> tuple[str, str | None]:
    m = _FRONT_MATTER.match(text)
    if not m or ":" not in m.group(1):
        return text, None
    title = None
    for line in m.group(1).split("\n"):
        key, _, value = line.partition(":")
        if key.strip().lower() == "title" and value.strip():
            title = value.strip().strip("'\"")
    # keep line numbers stable for markdown-it's token maps
    return "\n" * m.group(0).count("\n") + text[m.end() :], title


def markdown_blocks(
    text: str, sections: SectionStack | None = None
) -> tuple[list[Block], str | None]:
    """Blocks of a markdown text, and its title (front matter, else the first h1)."""
    from markdown_it import MarkdownIt

    sections = sections or SectionStack()
    text, title = _front_matter(text)
    md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    tokens = md.parse(text)
    lines = text.split("\n")
    blocks: list[Block] = []
    skip_to = -1
    for i, tok in enumerate(tokens):
        checkpoint()
        if i <= skip_to or tok.level != 0 or tok.nesting == -1:
            continue
        if tok.type == "heading_open":
            inline = tokens[i + 1]
            parts = [" " if c.type == "softbreak" else c.content
                     for c in inline.children or [] if c.type in _PLAIN_INLINE]
            heading = " ".join("".join(parts).split()) if parts else inline.content.strip()
            if heading:
                path = sections.push(int(tok.tag[1]), heading)
                blocks.append(Block(heading, kind="heading", section=path))
                if title is None and tok.tag == "h1":
                    title = heading
            skip_to = i + 2
        elif tok.type in ("fence", "code_block"):
            if tok.content.strip():
                lang = tok.info.split()[0] if tok.info.strip() else ""
                blocks.append(
                    Block(tok.content.rstrip("\n"), kind="code", section=sections.path,
                          meta={"lang": lang} if lang else {})
                )
        elif tok.type == "hr" or not tok.map:
            continue
        else:
            raw = "\n".join(lines[tok.map[0] : tok.map[1]]).strip("\n")
            kind = "table" if tok.type == "table_open" else "text"
            if kind == "table":
                blocks.append(Block(raw, kind="table", section=sections.path))
            else:
                blocks.extend(paragraph_blocks(raw, sections.path))
    return blocks, title


# ---------------------------------------------------------------- registration


@register("text", (".txt", ".text", ".log", ".tex", ".srt", ".vtt", ".adoc", ".asciidoc"))
def load_plain(path: Path) -> LoadedDocument:
    return LoadedDocument(paragraph_blocks(read_text(path)))


@register("markdown", (".md", ".markdown", ".mdown", ".mkd"))
def load_markdown(path: Path) -> LoadedDocument:
    blocks, title = markdown_blocks(read_text(path))
    return LoadedDocument(blocks, title=title)


CODE_LANGUAGES: dict[str, tuple[str, ...]] = {
    "python": (".py", ".pyi", ".pyw"),
    "javascript": (".js", ".mjs", ".cjs", ".jsx"),
    "typescript": (".ts", ".tsx", ".mts", ".cts"),
    "java": (".java",),
    "kotlin": (".kt", ".kts"),
    "scala": (".scala",),
    "groovy": (".groovy", ".gradle"),
    "c": (".c", ".h"),
    "cpp": (".cpp", ".cc", ".cxx", ".hpp", ".hh", ".hxx"),
    "csharp": (".cs",),
    "go": (".go",),
    "rust": (".rs",),
    "swift": (".swift",),
    "objc": (".m", ".mm"),
    "php": (".php",),
    "ruby": (".rb",),
    "perl": (".pl", ".pm"),
    "lua": (".lua",),
    "r": (".r",),
    "julia": (".jl",),
    "dart": (".dart",),
    "haskell": (".hs",),
    "elixir": (".ex", ".exs"),
    "erlang": (".erl",),
    "clojure": (".clj", ".cljs"),
    "ocaml": (".ml", ".mli"),
    "fsharp": (".fs", ".fsx"),
    "shell": (".sh", ".bash", ".zsh", ".fish"),
    "powershell": (".ps1", ".psm1"),
    "batch": (".bat", ".cmd"),
    "sql": (".sql",),
    "yaml": (".yaml", ".yml"),
    "toml": (".toml",),
    "ini": (".ini", ".cfg", ".conf", ".properties"),
    "css": (".css", ".scss", ".sass", ".less"),
    "vue": (".vue",),
    "svelte": (".svelte",),
    "xml": (".xml", ".xsd", ".xsl", ".xslt"),
    "protobuf": (".proto",),
    "graphql": (".graphql", ".gql"),
    "makefile": (".mk",),
    "cmake": (".cmake",),
    "diff": (".diff", ".patch"),
}


def _code_loader(lang: str) -> Callable[[Path], LoadedDocument]:
    def load(path: Path) -> LoadedDocument:
        return LoadedDocument(_code_blocks(read_text(path), lang), meta={"lang": lang})

    load.__name__ = f"load_{lang}"
    return load


for _lang, _exts in CODE_LANGUAGES.items():
    register(f"code-{_lang}", _exts)(_code_loader(_lang))
