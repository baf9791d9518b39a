"""A conversation as Markdown: its title, each turn, and each answer's citations as footnotes
(file, page, section, a short quote). Citation markers ``[n]`` in an answer become footnote
references; footnote labels are numbered across the whole document so they never collide."""

from __future__ import annotations

import re

from zhiku.schema.chat import Conversation, Message

_MARK = re.compile(r"\[(\d{1,3})\]")
QUOTE_CHARS = 160
LABELS = {"en": {"user": "Question", "assistant": "Answer", "stopped": "(stopped)", "error": "Error",
                 "sources": "Sources", "feedback": "Feedback", "untitled": "Conversation"}}


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _quote(text: str) -> str:
    line = _one_line(text)
    return line if len(line) <= QUOTE_CHARS else line[: QUOTE_CHARS - 1] + "…"


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
        where = [c.file]
        if c.page:
            where.append(f"p. {c.page}")
        if c.section:
            where.append(_one_line(c.section))
        notes.append(f"[^{label}]: {', '.join(where)} ({c.kb}): “{_quote(c.text)}”")
    return body, notes


def to_markdown(conv: Conversation) -> str:
    t = LABELS["en"]
    out = [f"# {_one_line(conv.title) or t['untitled']}", ""]
    meta = [f"mode: {conv.mode}"]
    if conv.settings.kbs:
        meta.append("knowledge bases: " + ", ".join(conv.settings.kbs))
    meta.append(f"created: {conv.created_at:%Y-%m-%d %H:%M} UTC")
    out += ["_" + " · ".join(meta) + "_", ""]
    label = 1
    for m in conv.messages or []:
        if m.role == "user":
            out += [f"## {t['user']}", "", m.content.strip(), ""]
            continue
        heading = t["assistant"] + (f" · {m.model}" if m.model else "")
        if m.status == "stopped":
            heading += " " + t["stopped"]
        body, notes = _answer(m, label)
        label += len(notes)
        out += [f"### {heading}", "", body.strip() or "…", ""]
        if m.error:
            out += [f"> **{t['error']}:** {_one_line(m.error)}", ""]
        if m.feedback is not None:
            thumb = "👍" if m.feedback.rating == "up" else "👎"
            reason = f" — {_one_line(m.feedback.reason)}" if m.feedback.reason else ""
            out += [f"_{t['feedback']}: {thumb}{reason}_", ""]
        if notes:
            out += notes + [""]
    return "\n".join(out).rstrip() + "\n"
