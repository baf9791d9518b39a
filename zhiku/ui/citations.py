"""A finished answer with clickable citation markers, and the passage each marker opens.

The answer is HTML made on the server by ``render.answer_html`` (raw HTML, images and unsafe links
already gone, checked against an allow-list). A Streamlit v2 component (``st.components.v2``: rendered
in the page inside a shadow root, not an iframe, and needing nothing from the network) puts that HTML
on the page and sends the number of a clicked ``[n]`` back to Python, which opens passage ``n`` in a
dialog: the file, its page or section, the text as written, the pictures it shows (the API's
``/files/{id}/images/{image}``) and downloads of the source file.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import streamlit as st

from zhiku.errors import ZhikuError
from zhiku.ui import session
from zhiku.ui.i18n import t
from zhiku.ui.render import answer_html, escape_markdown

# The HTML comes from answer_html (safe by construction); the script never builds markup itself.
_JS = """
export default function ({ data, parentElement, setTriggerValue }) {
  let root = parentElement.querySelector(".zk-answer");
  if (!root) {
    root = document.createElement("div");
    root.className = "zk-answer";
    parentElement.appendChild(root);
  }
  root.innerHTML = data.html;
  const onClick = (event) => {
    const button = event.target.closest("button.zk-cite");
    if (button) setTriggerValue("open", Number(button.dataset.n));  // one rerun; then it reads None again
  };
  root.addEventListener("click", onClick);
  return () => root.removeEventListener("click", onClick);
}
"""

# Streamlit's markdown look, from the theme's variables (light and dark follow the theme).
_CSS = """
.zk-answer { font-family: var(--st-font); font-size: var(--st-base-font-size, 1rem);
  color: var(--st-text-color); line-height: 1.6; overflow-wrap: break-word; }
.zk-answer > :first-child { margin-top: 0; }
.zk-answer > :last-child { margin-bottom: 0; }
.zk-answer p, .zk-answer ul, .zk-answer ol, .zk-answer pre, .zk-answer table, .zk-answer blockquote {
  margin: 0 0 1rem 0; }
.zk-answer ul, .zk-answer ol { padding-left: 1.5em; }
.zk-answer li { margin: 0.2em 0; }
.zk-answer h1, .zk-answer h2, .zk-answer h3, .zk-answer h4, .zk-answer h5, .zk-answer h6 {
  font-family: var(--st-heading-font, var(--st-font)); color: var(--st-heading-color, inherit);
  line-height: 1.2; margin: 1rem 0 0.5rem 0; }
.zk-answer h1 { font-size: var(--st-heading-font-size-1, 2.75rem); }
.zk-answer h2 { font-size: var(--st-heading-font-size-2, 2.25rem); }
.zk-answer h3 { font-size: var(--st-heading-font-size-3, 1.75rem); }
.zk-answer h4 { font-size: var(--st-heading-font-size-4, 1.5rem); }
.zk-answer h5, .zk-answer h6 { font-size: 1.1rem; }
.zk-answer a { color: var(--st-link-color); }
.zk-answer code { font-family: var(--st-code-font); font-size: 0.75em; padding: 0.2em 0.4em;
  border-radius: var(--st-base-radius, 0.5rem); background: var(--st-code-background-color);
  color: var(--st-code-text-color, inherit); }
.zk-answer pre { background: var(--st-code-background-color); border-radius: var(--st-base-radius, 0.5rem);
  padding: 1rem; overflow-x: auto; }
.zk-answer pre code { padding: 0; background: none; font-size: 0.875em; color: var(--st-text-color); }
.zk-answer blockquote { border-left: 0.25rem solid var(--st-border-color, rgba(128, 128, 128, 0.4));
  padding-left: 1rem; margin-left: 0; }
.zk-answer hr { border: none; border-top: 1px solid var(--st-border-color, rgba(128, 128, 128, 0.4)); }
.zk-answer table { border-collapse: collapse; font-size: 0.875em; }
.zk-answer th, .zk-answer td { border: 1px solid var(--st-border-color-light, rgba(128, 128, 128, 0.3));
  padding: 0.25rem 0.5rem; }
.zk-answer th { background: var(--st-secondary-background-color); font-weight: 600; }
.zk-cite { font: inherit; font-size: 0.8em; line-height: 1.3; vertical-align: 0.05em; cursor: pointer;
  border: 1px solid transparent; border-radius: 0.5rem; padding: 0 0.45em; margin: 0 0.1em;
  background: var(--st-blue-background-color); color: var(--st-blue-text-color, var(--st-link-color)); }
.zk-cite:hover { border-color: var(--st-blue-color, currentColor); }
.zk-cite:focus-visible { outline: 2px solid var(--st-primary-color); outline-offset: 1px; }
"""

_answer = st.components.v2.component("zhiku_answer", css=_CSS, js=_JS)


def pages_of(c: Any) -> str:
    """``page 3``, or ``pages 3–4`` for a passage that runs onto the next page; empty without pages."""
    if not c.page:
        return ""
    end = getattr(c, "page_end", None)
    return t("pages", start=c.page, end=end) if isinstance(end, int) and end > c.page else t("page", page=c.page)


def citation_title(c: Any) -> str:
    """``file · page 3`` (what a marker's tooltip says)."""
    return f"{c.file} · {pages_of(c)}" if c.page else c.file


def show_answer(content: str, citations: list[Any], key: str) -> None:
    """The answer with a clickable ``[n]`` for each citation; a click opens that passage."""
    by_n = {c.n: c for c in citations}
    html = answer_html(content, {n: citation_title(c) for n, c in by_n.items()})
    result = _answer(key=f"answer-{key}", data={"html": html}, on_open_change=lambda: None)
    opened = result.get("open") if result is not None else None
    if isinstance(opened, int) and opened in by_n:
        open_passage(by_n[opened], f"{key}-d{opened}")


def open_passage(c: Any, key: str) -> None:
    """Passage ``c`` in a dialog over the chat (closing it leaves the conversation as it was)."""

    def body() -> None:
        show_passage(c, key)

    st.dialog(escape_markdown(t("source_n", n=c.n)), width="medium")(body)()


def show_passage(c: Any, key: str) -> None:
    """The cited passage: file, page or section, relevance, the text as written, and the file itself
    (for a PDF also the cited page on its own)."""
    st.markdown(f"**{escape_markdown(c.file)}**")
    facts = []
    if c.page:
        facts.append(pages_of(c))
    if c.section:
        facts.append(f"{t('section')}: {c.section}")
    facts.append(f"{t('score')}: {c.score:.2f}")
    st.caption(escape_markdown(" · ".join(facts)))
    with st.container(border=True, height=260):
        st.markdown(escape_markdown(c.text))
    kb, file_id, page = c.kb, c.file_id, c.page
    for image_id in (getattr(c, "images", None) or [])[:4]:  # the pictures the passage shows
        try:
            st.image(session.client().file_image(kb, file_id, image_id), width="stretch")
        except ZhikuError as e:
            st.caption(escape_markdown(e.message))
    if getattr(c, "url", None):  # a web page found by search mode: there is no file, only the page
        if c.url.lower().startswith(("http://", "https://")):
            st.link_button(t("open_web_page"), c.url, icon=":material/open_in_new:")
        return
    zk = session.client()  # taken now: the downloads' data is read on a server thread, outside this script run
    with st.container(horizontal=True, gap="small"):
        st.download_button(t("download_source"), data=lambda: zk.download(kb, file_id),
                           file_name=c.file, key=f"dl-{key}", icon=":material/download:", on_click="ignore")
        if page and PurePath(c.file).suffix.lower() == ".pdf":  # the API cuts single pages out of PDFs
            st.download_button(t("download_page", page=page), key=f"dlp-{key}", on_click="ignore",
                               data=lambda: zk.download(kb, file_id, page=page),
                               file_name=f"{PurePath(c.file).stem or 'document'}-p{page}.pdf",
                               mime="application/pdf", icon=":material/description:")
