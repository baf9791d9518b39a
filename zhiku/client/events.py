"""Streamed responses as the client reads them: server-sent events parsed, and each stream's
events as typed objects built from the nouns of ``zhiku.schema``.

``POST /api/ask`` with ``stream: true`` sends ``AnswerEvent``s::

    start      {lang, mode, found}         before the answer
    delta      {text}                      pieces of the answer, in order (repeated)
    citations  {citations: [...]}          the sources cited, numbered as in the text
    done       the whole Answer
    error      {type, message, details}    raised as the ZhikuError it names

A streamed chat answer (``/api/chat``, a conversation's messages; any mode) sends ``ChatEvent``s::

    start      {mode, model, conversation_id, user_message_id}
    tool_step  one tool call of an agent answer, as it ended (``zhiku.schema.ToolStep``)
    approval_request  a call waiting for the user (``zhiku.schema.ApprovalRequest``): answer it with
               POST /api/chat/approvals/{id}
    delta      {text}
    citations  {citations: [...]}
    error      {type, message, details}    the answer failed after it started (given, not raised)
    done       the assistant Message (as stored, with its id, in a conversation)

A job's event stream (``/api/jobs/{id}/events``) sends the ``Job`` itself on each ``progress``
and at its ``end``. A stream that fails before its first piece is an ordinary error response.

These are the wire's events; the core's answer stream (``zhiku.schema``'s ``Retrieved``,
``Delta``, ``Final``...) is what the server turns into them.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from zhiku.client.routes import error_from_response
from zhiku.schema import Answer, ApprovalRequest, Citation, ToolStep
from zhiku.schema.chat import Message
from zhiku.schema.jobs import Job


class AnswerEvent(BaseModel):
    """One event of a streamed ``ask``; ``type`` says which field is set."""

    type: Literal["start", "delta", "citations", "done"]
    text: str = Field("", description="delta: the piece of text")
    citations: list[Citation] = Field(default_factory=list, description="citations: the sources cited")
    answer: Answer | None = Field(None, description="done: the whole answer")
    info: dict[str, Any] = Field(default_factory=dict, description="start: what the server says first")


class ChatEvent(BaseModel):
    """One event of a streamed chat answer; ``type`` says which fields are set."""

    type: Literal["start", "tool_step", "approval_request", "delta", "citations", "error", "done"]
    text: str = Field("", description="delta: the piece of text")
    step: ToolStep | None = Field(None, description="tool_step: the tool call")
    approval: ApprovalRequest | None = Field(None, description="approval_request: the call waiting for the user")
    citations: list[Citation] = Field(default_factory=list, description="citations: the sources cited")
    message: Message | None = Field(None, description="done: the assistant message")
    error: dict[str, Any] | None = Field(None, description="error: {type, message, details}")
    info: dict[str, Any] = Field(default_factory=dict, description="start: mode, model, conversation and question ids")


class SSEParser:
    """Turns text/event-stream lines into (event, data) pairs; comments are skipped."""

    def __init__(self) -> None:
        self.event: str = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> tuple[str, str] | None:
        if line == "":
            out = (self.event, "\n".join(self.data)) if self.data else None
            self.event, self.data = "message", []
            return out
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self.event = value
        elif name == "data":
            self.data.append(value)
        return None


def answer_event(name: str, data: str) -> AnswerEvent | None:
    """The ``AnswerEvent`` of one server-sent event (None: one the client does not know);
    an ``error`` event raises its ZhikuError."""
    payload = json.loads(data)
    if name == "start":
        return AnswerEvent(type="start", info=payload)
    if name == "delta":
        return AnswerEvent(type="delta", text=payload["text"])
    if name == "citations":
        return AnswerEvent(type="citations", citations=[Citation(**c) for c in payload["citations"]])
    if name == "done":
        return AnswerEvent(type="done", answer=Answer(**payload))
    if name == "error":
        raise error_from_response(httpx.Response(500, json=payload))
    return None


def chat_event(name: str, data: str) -> ChatEvent | None:
    """The ``ChatEvent`` of one server-sent event (None: one the client does not know)."""
    payload = json.loads(data)
    if name == "start":
        return ChatEvent(type="start", info=payload)
    if name == "delta":
        return ChatEvent(type="delta", text=payload["text"])
    if name == "tool_step":
        return ChatEvent(type="tool_step", step=ToolStep(**payload))
    if name == "approval_request":
        return ChatEvent(type="approval_request", approval=ApprovalRequest(**payload))
    if name == "citations":
        return ChatEvent(type="citations", citations=[Citation(**c) for c in payload["citations"]])
    if name == "error":
        return ChatEvent(type="error", error=payload)
    if name == "done":
        return ChatEvent(type="done", message=Message(**payload))
    return None


def job_event(name: str, data: str) -> Job | None:
    """The job as one of its event stream's events reports it (None: a heartbeat or other)."""
    return Job(**json.loads(data)) if name in ("progress", "end") else None
