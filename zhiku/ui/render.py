"""Rendering text that came from documents, file names, users and models, without running any of it.

Streamlit's markdown never renders raw HTML (``unsafe_allow_html`` stays off everywhere), so a
``<script>`` or ``<img onerror>`` shows as text. On top of that: document text and file names are
escaped completely (a passage is shown as written, never formatted), and answers keep their
markdown but lose images (an image URL in an answer would make the browser fetch it: a request
leaving the machine) and ``$`` math.
"""

from __future__ import annotations

import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")
_IMAGE = re.compile(r"!\[")
_CITE = re.compile(r"\[(\d{1,3})\]")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)


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
