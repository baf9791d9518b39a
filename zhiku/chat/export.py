"""A conversation as Markdown: its title, each turn, and each answer's citations as footnotes
(file, page, section, a short quote). Citation markers ``[n]`` in an answer become footnote
references; footnote labels are numbered across the whole document so they never collide.

Nothing a document or a model wrote becomes live Markdown when the export is opened: quotes, file
names, sections and titles are escaped as plain text (a quoted ``<img src=...>`` or ``![](http://...)``
shows as written), and in the turns themselves, which stay Markdown, raw HTML and pictures (remote
images load by themselves: a tracking pixel) are escaped outside code."""

from __future__ import annotations

import re

from zhiku.schema.chat import Conversation, Message

_MARK = re.compile(r"\[(\d{1,3})\]")
QUOTE_CHARS = 160
LABELS = {"en": {"user": "Question", "assistant": "Answer", "stopped": "(stopped)", "error": "Error",
                 "sources": "Sources", "feedback": "Feedback", "untitled": "Conversation"}}


_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~<>])")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.S)
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def _plain(text: str) -> str:
    """Text shown as written: every Markdown and HTML character escaped."""
    return _SPECIAL.sub(r"\\\1", text.replace("&", "&amp;"))


def _defuse(line: str) -> str:
    """A line of Markdown with raw HTML, autolinks and pictures escaped, code spans kept."""
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(line):
        out.append(line[pos:m.start()].replace("<", "\\<").replace("![", "!\\["))
        out.append(m.group(0))
        pos = m.end()
    out.append(line[pos:].replace("<", "\\<").replace("![", "!\\["))
    return "".join(out)


def _markdown(text: str) -> str:
    """A turn's Markdown, kept, but with its HTML and pictures escaped outside fenced code."""
    lines, fenced = [], False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            lines.append(line)
        else:
            lines.append(line if fenced else _defuse(line))
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return _plain(re.sub(r"\s+", " ", text).strip())


def _quote(text: str) -> str:
    line = re.sub(r"\s+", " ", text).strip()
    return _plain(line if len(line) <= QUOTE_CHARS else line[: QUOTE_CHARS - 1] + "…")


def _answer(m: Message, first_label: int) -> tuple[str, list[str]]:
    """The answer with [n] turned into [^k], and its footnote lines."""
    by_n = {c.n: c for c in m.citations}
    labels: dict[int, int] = {}
    for i, c in enumerate(m.citations):
        labels[c.n] = first_label + i

    def ref(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return f"[^{labels[n]}]" if n in labels else match.group(0)

    body = _MARK.sub(ref, m.content)
    notes = []
    for n, label in labels.items():
        c = by_n[n]
        where = [_plain(c.file)]
        if c.page:  # the page(s) the UI names too: a passage running onto the next page names both
            where.append(f"pp. {c.page}–{c.page_end}" if c.page_end and c.page_end > c.page else f"p. {c.page}")
        if c.section:
            where.append(_one_line(c.section))
        notes.append(f"[^{label}]: {', '.join(where)} ({_plain(c.kb)}): “{_quote(c.text)}”")
    return body, notes


def to_markdown(conv: Conversation) -> str:
    t = LABELS["en"]
    out = [f"# {_one_line(conv.title) or t['untitled']}", ""]
    meta = [f"mode: {conv.mode}"]
    if conv.settings.kbs:
        meta.append("knowledge bases: " + ", ".join(_plain(k) for k in conv.settings.kbs))
    meta.append(f"created: {conv.created_at:%Y-%m-%d %H:%M} UTC")
    out += ["_" + " · ".join(meta) + "_", ""]
    label = 1
    for m in conv.messages or []:
        if m.role == "user":
            out += [f"## {t['user']}", "", _markdown(m.content.strip()), ""]
            continue
        heading = t["assistant"] + (f" · {_plain(m.model)}" if m.model else "")
        if m.status == "stopped":
            heading += " " + t["stopped"]
        body, notes = _answer(m, label)
        label += len(notes)
        out += [f"### {heading}", "", _markdown(body.strip()) or "…", ""]
        if m.error:
            out += [f"> **{t['error']}:** {_one_line(m.error)}", ""]
        if m.feedback is not None:
            thumb = "👍" if m.feedback.rating == "up" else "👎"
            reason = f" — {_one_line(m.feedback.reason)}" if m.feedback.reason else ""
            out += [f"_{t['feedback']}: {thumb}{reason}_", ""]
        if notes:
            out += notes + [""]
    return "\n".join(out).rstrip() + "\n"
