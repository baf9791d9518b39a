"""Rendering text that came from documents, file names, users and models, without running any of it.

Streamlit's markdown never renders raw HTML (``unsafe_allow_html`` stays off everywhere), so a
``<script>`` or ``<img onerror>`` shows as text. On top of that: document text and file names are
escaped completely (a passage is shown as written, never formatted), and answers keep their
markdown but lose images (an image URL in an answer would make the browser fetch it: a request
leaving the machine) and ``$`` math.

A finished answer is shown as HTML instead (``answer_html``), so that its ``[n]`` markers can be
buttons that open the cited passage. That HTML is made here, on the server, by markdown-it with raw
HTML off (every ``<`` in the answer comes out as ``&lt;``), images shown as their markdown text,
only ``http``/``https``/``mailto`` links (opening in a new tab), and is checked against an allow-list
of tags and attributes before it is sent.
"""

from __future__ import annotations

import html
import logging
import re
from html.parser import HTMLParser
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

log = logging.getLogger(__name__)

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")
_IMAGE = re.compile(r"!\[")
_CITE = re.compile(r"\[(\d{1,3})\]")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)


def escape_markdown(text: str) -> str:
    """Plain text as markdown that shows exactly this text (line breaks kept)."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    return "  \n".join(escaped.splitlines()) if "\n" in escaped else escaped


def answer_markdown(text: str, cited: set[int] | None = None) -> str:
    """An answer's markdown, made inert (no images, no math, no HTML) with its ``[n]`` markers as badges."""
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):  # outside code: no images, no math, no HTML (shown as text)
        parts[i] = _IMAGE.sub(r"!\\[", parts[i]).replace("$", r"\$").replace("<", r"\<")
    safe = "".join(parts)

    def badge(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f":blue-badge[{n}]" if cited is None or n in cited else m.group(0)

    return _CITE.sub(badge, safe)


_LINK_SCHEMES = ("http://", "https://", "mailto:")
_TAGS = {"p", "br", "hr", "em", "strong", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a", "button",
         "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"}
_ATTRS = {"href", "target", "rel", "start", "style", "class", "type", "data-n", "title", "aria-label"}
_ROW_MARKERS = re.compile(r"^(\s*\|.*\|)\s*((?:\[\d{1,3}\]\s*)+)$")
_STYLE = re.compile(r"text-align:(left|center|right)")  # what markdown-it writes on table cells


def answer_html(text: str, cited: dict[int, str]) -> str:
    """An answer's markdown as inert HTML whose markers ``[n]`` (for ``n`` in ``cited``, which maps
    each citation number to its label, e.g. the file and page) are ``<button class="zk-cite">``."""
    out = _MD.render(_markers_out_of_tables(text), {"cited": cited})
    if not is_allowed_html(out):  # cannot happen with markdown-it's escaping; if it ever does, show text
        log.warning("answer HTML failed the allow-list check; showing the answer as plain text")
        return f'<p style="white-space:pre-wrap">{html.escape(text)}</p>'
    return out


def _markers_out_of_tables(text: str) -> str:
    """``| a | b | [1]`` closing a table: a table drops cells beyond its header's, and the marker with
    them, so it moves below the table (answers that quote a passage ending in a table do this)."""
    lines = text.split("\n")
    fence = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        m = None if fence else _ROW_MARKERS.match(line)
        if m and (i + 1 == len(lines) or not lines[i + 1].strip()):
            lines[i] = f"{m.group(1)}\n\n{m.group(2).strip()}"
    return "\n".join(lines)


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(_LINK_SCHEMES)


def _mark_citations(state: StateCore) -> None:
    """Core rule: ``[n]`` in plain text (not in code, not inside a link) becomes a citation token;
    links open in a new tab without handing this page to the site."""
    cited: dict[int, str] = state.env.get("cited") or {}
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        in_link = 0
        for tok in block.children:
            if tok.type == "link_open":
                in_link += 1
                tok.attrSet("target", "_blank")
                tok.attrSet("rel", "noopener noreferrer nofollow")
            elif tok.type == "link_close":
                in_link -= 1
            if tok.type == "text" and not in_link and _CITE.search(tok.content):
                children.extend(_split_citations(tok, cited))
            else:
                children.append(tok)
        block.children = children


def _split_citations(tok: Token, cited: dict[int, str]) -> list[Token]:
    parts: list[Token] = []
    pos = 0
    for m in _CITE.finditer(tok.content):
        n = int(m.group(1))
        if n not in cited:
            continue
        if m.start() > pos:
            parts.append(Token("text", "", 0, content=tok.content[pos:m.start()]))
        parts.append(Token("citation", "button", 0, meta={"n": n, "label": cited[n]}))
        pos = m.end()
    if pos < len(tok.content):
        parts.append(Token("text", "", 0, content=tok.content[pos:]))
    return parts


def _render_citation(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    n, label = int(tokens[idx].meta["n"]), html.escape(str(tokens[idx].meta["label"]))
    return (f'<button type="button" class="zk-cite" data-n="{n}" title="{label}" '
            f'aria-label="[{n}] {label}">{n}</button>')


def _image_as_text(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    """``![alt](url)`` shown as written: an image would make the browser fetch its URL."""
    tok = tokens[idx]
    alt = self.renderInlineAsText(tok.children or [], options, env)
    return html.escape(f"![{alt}]({tok.attrGet('src')})")


class _SafeLinksMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return _safe_link(url)  # other links stay as written, e.g. [x](javascript:...)


def _markdown() -> MarkdownIt:
    md = _SafeLinksMarkdown("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("zhiku_citations", _mark_citations)
    md.add_render_rule("citation", _render_citation)
    md.add_render_rule("image", _image_as_text)
    return md


_MD = _markdown()


class _AllowList(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ok = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS:
            self.ok = False
        for name, value in attrs:
            if name not in _ATTRS or (name == "href" and not _safe_link(value or "")) or (
                    name == "style" and not _STYLE.fullmatch(value or "")):
                self.ok = False

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.ok = False

    def handle_decl(self, decl: str) -> None:
        self.ok = False

    def handle_pi(self, data: str) -> None:
        self.ok = False


def is_allowed_html(markup: str) -> bool:
    """Every tag and attribute of ``markup`` is one markdown-it writes for safe markdown."""
    checker = _AllowList()
    checker.feed(markup)
    checker.close()
    return checker.ok


def human_size(size: int) -> str:
    step = 1024.0
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < step or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= step
    return f"{size} B"


def citation_label(c: Any, page_word: str) -> str:
    """``[n] file · p. 3`` for a citation's button (a label is plain text in Streamlit)."""
    where = f" · {page_word}" if c.page else ""
    name = c.file if len(c.file) <= 40 else c.file[:37] + "…"
    return escape_markdown(f"[{c.n}] {name}{where}")


def short_title(text: str, limit: int = 40) -> str:
    """A conversation title from a question: its first line, cut at a word boundary when it is
    longer than ``limit`` (Chinese, with no spaces, is cut at ``limit`` characters), marked with …."""
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(line) <= limit:
        return line
    cut = line[:limit]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:，。；：") + "…"
