"""Request bodies of the chat and conversation routes (the responses are ``zhiku.schema.chat``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from zhiku.schema import SearchMode, limits
from zhiku.schema.chat import ChatMode, ConversationSettings

Content = Annotated[str, Field(min_length=1, max_length=limits.QUESTION_MAX_CHARS)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnOverrides(_Body):
    """Per-answer choices; each one given overrides the conversation's setting for this answer."""

    kbs: list[Annotated[str, Field(max_length=limits.KB_NAME_MAX_CHARS)]] | None = Field(
        None, max_length=limits.KB_NAMES_MAX, description="knowledge bases (kb mode); [\"*\"]: all you may "
        "read, each question routed to those that fit it and named in the answer (meta.kbs)")
    temp_kb: str | None = Field(None, pattern=r"^[0-9a-f]{32}$", description="uploaded files' id (file mode)")
    model: str | None = Field(None, min_length=1, max_length=limits.NAME_MAX_CHARS, description="chat model")
    temperature: float | None = Field(None, ge=0, le=2)
    top_k: int | None = Field(None, ge=1, le=200, description="passages retrieved")
    strict: bool | None = Field(None, description="say 'no answer' under the relevance floor")
    retrieval: SearchMode | None = Field(None, description="how passages are searched: hybrid (default), dense "
                                                           "or lexical")
    agentic: bool | None = Field(None, description="kb mode: the chat model searches the KBs as a tool, rewriting "
                                 "and splitting the question and searching again (agent mode always does)")


class ConversationCreate(TurnOverrides):
    title: str | None = Field(None, max_length=limits.TITLE_MAX_CHARS,
                              description="empty: the first question names it")
    mode: ChatMode = "kb"
    settings: ConversationSettings | None = Field(None, description="the same choices as the top-level fields")


class ConversationUpdate(_Body):
    title: str | None = Field(None, max_length=limits.TITLE_MAX_CHARS)
    mode: ChatMode | None = None
    settings: ConversationSettings | None = Field(
        None, description="the fields given replace the conversation's (null removes one)")


class MessageCreate(TurnOverrides):
    content: Content
    mode: ChatMode | None = Field(None, description="default: the conversation's mode")
    stream: bool = Field(False, description="answer as a text/event-stream: start, delta, citations, done, error")
    approvals: bool = Field(False, description="agent mode, streamed: a tool that acts on the world sends an "
                            "approval_request event and waits for POST /api/chat/approvals/{id} (else it is refused)")


class FeedbackCreate(_Body):
    rating: Literal["up", "down"]
    reason: str | None = Field(None, max_length=limits.REASON_MAX_CHARS)


class ChatTurn(_Body):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=limits.MESSAGE_MAX_CHARS)


class ChatRequest(TurnOverrides):
    """Stateless chat: nothing is stored. The last message is the question, the others the history."""

    mode: ChatMode
    messages: Annotated[list[ChatTurn], Field(min_length=1, max_length=limits.MESSAGES_MAX),
                        AfterValidator(limits.question_last)]
    stream: bool = False
    images: list[Annotated[str, Field(max_length=12 * 2**20)]] = Field(
        default_factory=list, max_length=4, description="pictures attached to the question, as data: URLs "
        "(data:image/png;base64,...): llm and kb mode answer through the vision model (400 when none is configured)")
    approvals: bool = Field(False, description="agent mode, streamed: a tool that acts on the world sends an "
                            "approval_request event and waits for POST /api/chat/approvals/{id} (else it is refused)")
