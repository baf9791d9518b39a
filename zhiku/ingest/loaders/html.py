"""HTML pages (also the chapters of EPUBs and HTML e-mail bodies).

Page furniture is dropped (script, style, nav, aside, noscript, and header/footer
outside an <article>/<main>); h1-h6 form the section path; data tables become
markdown tables (layout tables — nested or one column — are read as text);
lists become one block each; <pre> keeps its lines.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from zhiku.ingest.loaders.base import Block, LoadedDocument, register
from zhiku.ingest.loaders.encoding import bom_encoding, clean_text, decode_bytes, wide_encoding
from zhiku.ingest.loaders.tables import table_blocks
from zhiku.ingest.loaders.text import SectionStack

_DROP = {
    "script", "style", "nav", "aside", "noscript", "template", "svg", "canvas", "iframe",
    "button", "select", "input", "textarea", "object", "embed", "map", "head", "title",
}
# furniture of very common page generators (MediaWiki edit links, navigation boxes)
_DROP_CLASSES = {
    "mw-editsection", "noprint", "navbox", "mw-jump-link", "catlinks", "printfooter",
    "mw-cite-backlink", "hatnote", "mw-empty-elt", "navigation-not-searchable",
    "mw-indicators", "sistersitebox", "ambox", "mbox-small", "interlanguage-link",
}
_DROP_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary"}
_BLOCK = {
    "p", "div", "section", "article", "main", "body", "html", "blockquote", "figure",
    "figcaption", "address", "details", "summary", "center", "form", "fieldset", "dd", "dt",
    "dl", "hr", "header", "footer", "caption", "legend", "tr", "td", "th", "tbody", "thead",
    "tfoot", "li", "option", "hgroup",
}
_SEPARATE = {"ul", "ol", "pre", "table", "img"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([\w.:-]+)""", re.I)
_GB = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn"}


def decode_html(data: bytes) -> str:
    """The page's text: BOM, then a declared charset, then ``decode_bytes``."""
    if bom_encoding(data) or wide_encoding(data):
        return decode_bytes(data)
    head = data[:4096]
    m = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if m:
        enc = m.group(1).decode("ascii", "replace").lower()
        enc = "gb18030" if enc in _GB else enc
        if not enc.startswith(("utf-16", "utf-32", "unicode")):
            try:
                return data.decode(enc)
            except (LookupError, UnicodeDecodeError):
                pass
    return decode_bytes(data)


def _hidden(el: Any) -> bool:
    if el.name in _DROP or el.has_attr("hidden"):
        return True
    classes = el.get("class") or ()
    if _DROP_CLASSES.intersection(classes):
        return True
    if el.name == "sup" and "reference" in classes:  # MediaWiki's "[1]" (Sphinx links are <a class="reference">)
        return True
    if el.get("aria-hidden") == "true" or el.get("role") in _DROP_ROLES:
        return True
    style = (el.get("style") or "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    if el.name in ("header", "footer"):
        return el.find_parent(["article", "main"]) is None
    return False


def _visible(el: Any, out: list[str]) -> None:
    from bs4 import NavigableString, Tag

    for child in el.children:
        if type(child) is NavigableString:
            out.append(str(child))
        elif isinstance(child, Tag) and not _hidden(child):
            if child.name == "br":
                out.append(" ")
            elif child.name in _BLOCK or child.name in _HEADINGS or child.name in _SEPARATE:
                out.append(" ")
                _visible(child, out)
                out.append(" ")
            else:
                _visible(child, out)


def _inline(el: Any) -> str:
    """The element's visible text on one line (hidden parts such as edit links left out)."""
    out: list[str] = []
    _visible(el, out)
    return " ".join("".join(out).split())


def _own_rows(table: Any) -> list[Any]:
    return [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]


def _is_data_table(table: Any, rows: list[Any]) -> bool:
    if not rows or table.find("table") is not None:
        return False
    widest = max(len(tr.find_all(["td", "th"], recursive=False)) for tr in rows)
    return widest >= 2


class _Walker:
    def __init__(self, sections: SectionStack) -> None:
        self.sections = sections
        self.blocks: list[Block] = []
        self.buf: list[str] = []
        self.first_h1: str | None = None

    def flush(self) -> None:
        text = "".join(self.buf)
        self.buf.clear()
        for para in re.split(r"\n[ \t]*\n", text):  # <br><br> separates paragraphs
            lines = (" ".join(line.split()) for line in para.split("\n"))
            para = clean_text("\n".join(line for line in lines if line))
            if para:
                self.blocks.append(Block(para, section=self.sections.path))

    def walk(self, el: Any) -> None:
        from bs4 import NavigableString, Tag

        for child in el.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:
                    self.buf.append(re.sub(r"\s+", " ", str(child)))
                continue
            if not isinstance(child, Tag) or _hidden(child):
                continue
            name = child.name
            if name in _HEADINGS:
                self.heading(child, _HEADINGS[name])
            elif name == "br":
                self.buf.append("\n")
            elif name in ("ul", "ol"):
                self.flush()
                lines = self.list_lines(child, 0)
                if lines:
                    self.blocks.append(Block("\n".join(lines), section=self.sections.path))
            elif name == "pre":
                self.flush()
                text = clean_text(child.get_text()).strip("\n")
                if text.strip():
                    is_code = child.find("code") is not None or "highlight" in str(
                        child.get("class") or ""
                    )
                    kind = "code" if is_code else "text"
                    self.blocks.append(Block(text, kind=kind, section=self.sections.path))
            elif name == "table":
                self.table(child)
            elif name in _BLOCK:
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk(child)

    def heading(self, el: Any, level: int) -> None:
        self.flush()
        text = clean_text(_inline(el)).strip()
        if not text:
            return
        path = self.sections.push(level, text)
        self.blocks.append(Block(text, kind="heading", section=path))
        if level == 1 and self.first_h1 is None:
            self.first_h1 = text

    def list_lines(self, el: Any, depth: int) -> list[str]:
        from bs4 import Tag

        lines: list[str] = []
        for li in el.find_all("li", recursive=False):
            nested = [c for c in li.children if isinstance(c, Tag) and c.name in ("ul", "ol")]
            for sub in nested:
                sub.extract()
            text = clean_text(_inline(li)).strip()
            if text:
                lines.append("  " * depth + "- " + text)
            for sub in nested:
                lines.extend(self.list_lines(sub, depth + 1))
        return lines

    def table(self, table: Any) -> None:
        rows = _own_rows(table)
        if not _is_data_table(table, rows):
            self.flush()
            self.walk(table)
            self.flush()
            return
        self.flush()
        caption = table.find("caption")
        if caption is not None and _inline(caption):
            self.blocks.append(Block(clean_text(_inline(caption)), section=self.sections.path))
        matrix: list[tuple[int, list[str]]] = []
        for i, tr in enumerate(rows, 1):
            cells: list[str] = []
            for cell in tr.find_all(["td", "th"], recursive=False):
                span = str(cell.get("colspan") or "1")
                repeat = min(int(span), 50) if span.isdigit() and int(span) > 0 else 1
                cells.extend([clean_text(_inline(cell))] * repeat)
            matrix.append((i, cells))
        self.blocks.extend(table_blocks(matrix, section=self.sections.path, captions=False))


# the closing sections of a MediaWiki article: citations and link lists, not its content
_BOILERPLATE_SECTIONS = {
    "references", "notes", "footnotes", "citations", "sources", "external links", "bibliography",
    "further reading", "see also", "参考文献", "参考来源", "参考资料", "参考", "脚注", "注释", "注解",
    "外部链接", "外部連結", "參考文獻", "參考資料", "腳註", "註釋", "延伸阅读", "延伸閱讀", "参见", "參見",
    "相关条目", "相關條目", "参考文献・脚注", "脚注・出典", "出典", "関連項目", "外部リンク", "참고 문헌",
    "각주", "외부 링크", "같이 보기",
}


def _drop_boilerplate_sections(root: Any) -> None:
    """Remove MediaWiki's References / External links / See also sections (heading and body)."""
    for h in root.find_all(list(_HEADINGS)):
        if _inline(h).strip().lower().rstrip(":：") not in _BOILERPLATE_SECTIONS:
            continue
        level = _HEADINGS[h.name]
        node = h.parent if "mw-heading" in (h.parent.get("class") or ()) else h
        doomed = [node]
        for sib in node.find_next_siblings():
            heads = [sib] if sib.name in _HEADINGS else sib.find_all(list(_HEADINGS))
            if any(_HEADINGS[x.name] <= level for x in heads):
                break
            doomed.append(sib)
        for el in doomed:
            el.extract()


def main_content(soup: Any) -> Any:
    """The element holding the page's content: MediaWiki's article body, else <main>,
    else the one <article>, else [role=main], else <body>. The navigation, language lists,
    site notices and footers around it are left out."""
    wiki = soup.select_one("#mw-content-text .mw-parser-output") or soup.select_one(
        ".mw-parser-output")
    if wiki is not None:
        _drop_boilerplate_sections(wiki)
        return wiki
    body = soup.body or soup
    whole = len(_inline(body))
    articles = soup.find_all("article")
    for candidate in (soup.find("main"), articles[0] if len(articles) == 1 else None,
                      soup.find(attrs={"role": "main"})):
        if candidate is None:
            continue
        size = len(_inline(candidate))
        if size >= 2000 or (size >= 40 and size * 4 >= whole):  # not an empty or stray landmark
            return candidate
    return body


def html_to_blocks(
    text: str, sections: SectionStack | None = None
) -> tuple[list[Block], str | None]:
    """Blocks of an HTML document, and its title (<title>, else the first h1)."""
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)  # XHTML is fine as HTML
        soup = BeautifulSoup(text, "lxml")
    title_el = soup.find("title")
    title = clean_text(_inline(title_el)).strip() if title_el is not None else ""
    walker = _Walker(sections or SectionStack())
    article_h1 = soup.find("h1", id="firstHeading")
    if article_h1 is not None and soup.select_one(".mw-parser-output") is not None:
        walker.heading(article_h1, 1)  # a MediaWiki page's title sits outside its content
    root = main_content(soup)
    walker.walk(root)
    walker.flush()
    return walker.blocks, title or walker.first_h1


@register("html", (".html", ".htm", ".xhtml", ".shtml"))
def load_html(path: Path) -> LoadedDocument:
    blocks, title = html_to_blocks(decode_html(path.read_bytes()))
    return LoadedDocument(blocks, title=title)
