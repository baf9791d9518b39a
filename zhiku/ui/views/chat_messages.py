"""One chat message on screen: the answer (inert markdown while it streams; once final, HTML whose
``[n]`` markers open the cited passage), an agent answer's tool calls (collapsed under it), its sources
(each opens the passage and offers the source file), feedback, and the streaming of a new answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import streamlit as st

from zhiku.ui import session
from zhiku.ui.citations import pages_of, show_answer, show_passage
from zhiku.ui.i18n import t
from zhiku.ui.messages import code_text
from zhiku.ui.render import answer_markdown, citation_label, escape_markdown


@dataclass
class Shown:
    """What the page needs of a message, whether it came from the server or this page's memory."""

    role: str
    content: str
    citations: list[Any] = field(default_factory=list)
    id: str | None = None
    status: str = "complete"
    error: str | None = None
    error_kind: str | None = None  # the server's code for it (shown in the UI's language)
    feedback: Any = None
    found: bool | None = None
    trace: list[Any] = field(default_factory=list)  # an agent answer's tool calls (ToolStep)

    @classmethod
    def of(cls, message: Any) -> "Shown":
        meta = getattr(message, "meta", None) or {}
        return cls(role=message.role, content=message.content, citations=list(message.citations or []),
                   id=getattr(message, "id", None), status=getattr(message, "status", "complete"),
                   error=getattr(message, "error", None), feedback=getattr(message, "feedback", None),
                   found=meta.get("found"), trace=list(getattr(message, "trace", None) or []))


def show_message(msg: Shown, key: str) -> None:
    with st.chat_message(msg.role, avatar=":material/person:" if msg.role == "user" else ":material/menu_book:"):
        if msg.role == "user":
            st.markdown(escape_markdown(msg.content))
            return
        if msg.content:
            show_answer(msg.content, msg.citations, key)
        else:
            st.markdown("…")
        if msg.status == "stopped":
            st.caption(t("stopped"))
        if msg.error:
            st.error(escape_markdown(t("model_unreachable", message=code_text(msg.error_kind, msg.error))), icon="⚠️")
        show_trace(msg.trace)
        show_citations(msg.citations, key)
        if msg.id:
            show_feedback(msg, key)


def trace_lines(trace: Iterable[Any]) -> list[str]:
    """Each tool call as one line of inert markdown: tool, arguments, outcome, time (a document's text
    in a result or an argument is shown as text, never as a link, an image or HTML)."""
    lines = []
    for step in trace:
        icon = "✅" if step.status == "ok" else "⛔" if step.status == "refused" else "⚠️"
        lines.append(f"{icon} {escape_markdown(step.shown)}")
    return lines


def show_trace(trace: list[Any]) -> None:
    """An agent answer's tool calls, collapsed under the answer."""
    if not trace:
        return
    with st.expander(t("tool_calls", n=len(trace)), expanded=False, icon=":material/build:"):
        st.markdown("\n\n".join(trace_lines(trace)))


def show_citations(citations: Iterable[Any], key: str) -> None:
    citations = list(citations)
    if not citations:
        return
    st.caption(t("sources"))
    with st.container(horizontal=True, gap="small"):
        for i, c in enumerate(citations):
            with st.popover(citation_label(c, pages_of(c)), width="content"):
                show_passage(c, f"{key}-c{i}")


def show_feedback(msg: Shown, key: str) -> None:
    current = msg.feedback
    default = None if current is None else (1 if current.rating == "up" else 0)
    cols = st.columns([1, 4])
    with cols[0]:
        value = st.feedback("thumbs", key=f"fb-{msg.id}", default=default)
    if value is None or (current is not None and value == default and st.session_state.get(f"fbsent-{msg.id}")):
        return
    with cols[1]:
        with st.form(f"fbform-{msg.id}", border=False, enter_to_submit=True):
            reason = st.text_input(t("feedback_reason"), value=(current.reason or "") if current else "",
                                   key=f"fbr-{msg.id}", label_visibility="collapsed",
                                   placeholder=t("feedback_reason"))
            if st.form_submit_button(t("send_feedback")):
                rating = "up" if value == 1 else "down"
                if session.call(session.client().feedback, msg.id, rating, reason or None,
                                default=False) is not False:
                    st.session_state[f"fbsent-{msg.id}"] = True
                    st.toast(t("feedback_thanks"))


def stream_answer(events: Iterable[Any]) -> Shown:
    """Show events (start / delta / citations / done / error) as they come. The Stop button's click
    reruns the page, which interrupts this loop and so closes the stream (the server stops too)."""
    shown = Shown(role="assistant", content="")
    with st.chat_message("assistant", avatar=":material/menu_book:"):
        st.button(t("stop"), icon=":material/stop_circle:", key="stop", type="tertiary",
                  on_click=lambda: st.session_state.update(stopping=True))
        box = st.empty()
        box.markdown(t("thinking"))
        try:
            shown = _show_events(events, shown, box)
        finally:  # a Stop (rerun) lands here as an exception: close the stream now, not at garbage collection
            close = getattr(events, "close", None)
            if close is not None:
                close()
        box.markdown(answer_markdown(shown.content, {c.n for c in shown.citations}) or "…")
    return shown


def _show_events(events: Iterable[Any], shown: Shown, box: Any) -> Shown:
    for ev in events:
        kind = ev.type
        if kind == "delta":
            shown.content += ev.text
            box.markdown(answer_markdown(shown.content) + " ▌")
        elif kind == "tool_step" and ev.step is not None:
            shown.trace.append(ev.step)
            if not shown.content:
                box.markdown(escape_markdown(t("tool_calling", tool=ev.step.tool)))
        elif kind == "citations":
            shown.citations = list(ev.citations)
        elif kind == "done":
            if ev.message is not None:
                shown = Shown.of(ev.message)
        elif kind == "error":
            error = ev.error or {}
            shown.error = str(error.get("message") or error.get("type") or "error")
            shown.error_kind = error.get("type")
    return shown
