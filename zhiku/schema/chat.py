"""The nouns of chat: conversations, their messages, feedback, and file chat's temporary KBs.

They cross every layer unchanged: the service returns them, the API sends them, the
typed client (``zhiku.client``) gives them back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from zhiku.schema import Citation, ToolStep

ChatMode = Literal["llm", "kb", "file", "search", "agent"]
MessageStatus = Literal["complete", "stopped", "error"]
Rating = Literal["up", "down"]
TempKBStatus = Literal["ingesting", "ready", "failed", "expired"]
MODES: tuple[str, ...] = ("llm", "kb", "file", "search", "agent")


class ConversationSettings(BaseModel):
    """How a conversation answers; every field may be overridden by one message."""

    kbs: list[str] = Field(default_factory=list, description="knowledge bases of kb mode")
    temp_kb: str | None = Field(None, description="the temporary KB of file mode (id from POST /api/chat/files)")
    model: str | None = Field(None, description="chat model (default: llm.default; none: extractive answers)")
    temperature: float | None = Field(None, ge=0, le=2)
    top_k: int | None = Field(None, ge=1, le=200)
    strict: bool | None = Field(None, description="under the relevance floor say 'no answer' (default: llm.grounding)")
    retrieval: Literal["hybrid", "dense", "lexical"] | None = Field(
        None, description="how passages are searched (default: retrieval.mode)")
    agentic: bool | None = Field(None, description="kb mode: the chat model searches the KBs as a tool (default: "
                                 "off; agent mode always searches this way)")


class Feedback(BaseModel):
    message_id: str
    rating: Rating
    reason: str | None = None
    created_at: datetime


class Message(BaseModel):
    """One turn of a conversation. ``id`` and ``conversation_id`` are None for stateless chat."""

    id: str | None = None
    conversation_id: str | None = None
    seq: int = 0
    role: Literal["user", "assistant"]
    content: str
    mode: str | None = None
    model: str | None = None
    status: MessageStatus = "complete"
    citations: list[Citation] = Field(default_factory=list)
    latency_ms: int | None = None
    usage: dict[str, int] | None = None
    error: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict, description="found, lang, warning, finish_reason, error_type")
    trace: list[ToolStep] | None = Field(None, description="agent answers: the tool calls made, in order")
    created_at: datetime
    feedback: Feedback | None = None


class Conversation(BaseModel):
    id: str
    owner: str
    title: str
    mode: ChatMode
    settings: ConversationSettings
    created_at: datetime
    updated_at: datetime
    messages: list[Message] | None = Field(None, description="present when one conversation is read")


class TempKBFile(BaseModel):
    name: str
    size: int = 0
    outcome: str = "queued"
    detail: str = ""


class TempKB(BaseModel):
    """Files uploaded for file chat: a hidden knowledge base that is deleted at ``expires_at``."""

    id: str
    status: TempKBStatus
    files: list[TempKBFile]
    job_id: str | None = None
    error: str | None = None
    created_at: datetime
    expires_at: datetime
