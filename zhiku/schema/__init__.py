"""The nouns every layer speaks: knowledge bases, files, chunks, hits, answers, and the one
question-answering request with the events its answer streams as (``AnswerRequest`` →
``AnswerEvent``... → ``Final``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, model_validator

from zhiku.schema.agent import ApprovalRequest, ToolStep  # noqa: F401  (the agent's events; the trace is in Answer)

FileStatus = Literal["pending", "indexed", "failed"]
SearchMode = Literal["hybrid", "dense", "lexical"]


class KnowledgeBase(BaseModel):
    id: str
    name: str
    description: str = ""
    embedder: str
    dimensions: int
    chunk_size: int
    chunk_overlap: int
    revision: int = 0
    created_at: datetime
    updated_at: datetime
    files: int = 0
    chunks: int = 0
    index_backend: str | None = None  # where its indexes live; None: the configured backend
    index_generation: str = ""  # which copy of its indexes is current ("": the first)


class FileRecord(BaseModel):
    id: str
    kb_id: str
    name: str
    sha256: str
    size: int
    status: FileStatus
    error: str | None = None
    pages: int | None = None
    chunks: int = 0
    doc_key: str | None = None
    created_at: datetime
    updated_at: datetime


class Chunk(BaseModel):
    id: int
    kb_id: str
    file_id: str
    seq: int
    text: str
    kind: str = "text"
    page: int | None = None
    page_end: int | None = None
    section: list[str] = Field(default_factory=list)
    start: int | None = None
    end: int | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class Hit(BaseModel):
    """One search result. ``score`` is in [0, 1], higher is better, comparable across KBs."""

    kb: str
    file: str
    file_id: str
    page: int | None
    section: str | None
    chunk_id: int
    score: float
    text: str
    dense_score: float | None = None
    lexical_score: float | None = None
    doc_key: str | None = None
    url: str | None = None  # web-search hits: the page the passage came from
    page_end: int | None = None  # the last page the passage runs onto (= page for most)
    meta: dict[str, Any] = Field(default_factory=dict)
    images: list[str] = Field(default_factory=list, description="the pictures the passage shows (ids): "
                              "GET /api/kbs/{kb}/files/{file_id}/images/{id}")

    @model_validator(mode="after")
    def _images_of_chunk(self) -> "Hit":
        """A chunk's pictures (``meta["images"]``, set at ingestion) are the hit's."""
        if not self.images and isinstance(self.meta.get("images"), list):
            self.images = [str(i) for i in self.meta["images"][:20]]
        return self

    def public(self) -> dict[str, Any]:
        return self.model_dump(exclude={"meta"})


class Citation(Hit):
    n: int


class WebResult(BaseModel):
    """One search result: a page the engine found, with the engine's snippet of it."""

    title: str
    url: str
    snippet: str = ""
    engine: str


class WebSearchPart(BaseModel):
    """What a web-search answer read: the engine's results, the pages that could not be read
    and the notice said about them ahead of the answer."""

    results: list[WebResult] = Field(default_factory=list)
    unread: dict[str, str] = Field(default_factory=dict, description="result URL → why its page was not read")
    notice: str | None = None


class Answer(BaseModel):
    """An answer in any mode. ``mode`` says who wrote it (``extractive``: sentences quoted from the
    sources; ``llm``: a chat model, named in ``model``)."""

    answer: str
    found: bool
    citations: list[Citation]
    lang: str
    mode: str = "extractive"
    best_score: float = 0.0
    model: str | None = Field(None, description="the chat model that answered (None: extractive)")
    warning: str | None = Field(None, description="said ahead of the answer when the evidence is weak")
    finish_reason: str | None = None
    usage: dict[str, int] | None = Field(None, description="prompt_tokens and completion_tokens")
    dropped_sources: int = Field(0, description="sources that did not fit the model's context window")
    dropped_turns: int = Field(0, description="earlier turns that did not fit the model's context window")
    web: WebSearchPart | None = Field(None, description="search mode: the results and the pages not read")
    tool_calls: list[dict[str, Any]] | None = Field(None, description="llm mode with tools: the calls the model "
                                                                    "asked for, in OpenAI's shape")
    trace: list[ToolStep] | None = Field(None, description="agent mode and agentic KB chat: the tool calls made")
    kbs: list[str] | None = Field(None, description="kb mode asked of all the asker's KBs (kbs ['*']): the "
                                  "knowledge bases the question was routed to and answered from")


# -- one question, from any face --------------------------------------------------------------
AnswerMode = Literal["llm", "kb", "file", "search", "agent"]


class Turn(BaseModel):
    """An earlier message of the conversation a question is asked in. A chat model given tools
    (``GenerationOptions.tools``) also sees its own calls (an assistant turn's ``tool_calls``) and
    the tools' results (``tool`` turns, answering ``tool_call_id``)."""

    role: Literal["user", "assistant", "tool"]
    content: str
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class GenerationOptions(BaseModel):
    """llm mode: how the chat model generates, beyond length and temperature (OpenAI's names and
    shapes). A model that cannot honour one given here refuses the answer (``ChatModel.options``)."""

    stop: list[str] | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None

    def given(self) -> list[str]:
        """The names of the options set."""
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


class AnswerRequest(BaseModel):
    """One question to answer, whichever face it came from. Every option left None takes the
    settings' value for this answer."""

    mode: AnswerMode
    question: str
    history: list[Turn] = Field(default_factory=list, description="earlier turns, oldest first")
    kbs: list[str] = Field(default_factory=list, description="kb mode: the knowledge bases to answer from")
    temp_kb: str | None = Field(None, description="file mode: the id of the uploaded files")
    owner: str = Field("local", description="who asks (file mode: whose uploaded files)")
    model: str | None = Field(None, description="chat model (default: llm.default; none: extractive answers)")
    extractive: bool = Field(False, description="kb and file modes: quote the sources even when a chat "
                                                "model is configured")
    temperature: float | None = None
    max_tokens: int | None = Field(None, description="llm mode: the longest reply")
    top_k: int | None = Field(None, description="passages retrieved")
    strict: bool | None = Field(None, description="under the relevance floor say 'no answer' (default: "
                                                  "llm.grounding)")
    system: str | None = Field(None, description="llm mode: the caller's instructions instead of the built-in ones")
    retrieval: str | None = Field(None, description="search mode of the retrieval: hybrid, dense or lexical")
    rerank: str | None = Field(None, description="reranker of this question's retrieval (none, coverage, http, "
                               "onnx or a plugin's; default: retrieval.rerank)")
    options: GenerationOptions | None = Field(None, description="llm mode: stop, seed, response format, tools")
    tool_turns: list[Turn] = Field(default_factory=list, description="llm mode: after the question, the "
                                   "model's tool calls and the tools' results, oldest first")
    agentic: bool | None = Field(None, description="kb mode: the chat model searches the KBs as a tool (rewrites, "
                                 "splits and searches again) instead of one search of the question; agent mode: "
                                 "default true")
    tools: list[str] | None = Field(None, description="agent mode: only these of the enabled tools (agent.tools)")
    approvals: bool = Field(False, description="agent mode: a tool that acts on the world asks the client for "
                            "approval (an ApprovalRequest event) instead of being refused")
    route: bool = Field(False, description="kb mode: ``kbs`` are the candidates (all the asker may read); the "
                        "question goes to those of them that fit it (zhiku.retrieval.routing), named in the answer")


class Retrieved(BaseModel):
    """The passages found for the question, before any of the answer (faces that show sources
    first take them from here). ``found``: the best of them is relevant enough to answer from."""

    type: Literal["retrieved"] = "retrieved"
    hits: list[Hit]
    lang: str
    best_score: float = 0.0
    found: bool = False


class Notice(BaseModel):
    """Said ahead of the answer (weak evidence, pages that could not be read); the answer's
    text starts with it too. A text stream shows it as ``shown``."""

    type: Literal["notice"] = "notice"
    text: str

    @property
    def shown(self) -> str:
        return self.text + "\n\n"


class Delta(BaseModel):
    """The next piece of the answer's text."""

    type: Literal["delta"] = "delta"
    text: str

    @property
    def shown(self) -> str:
        return self.text


class Final(BaseModel):
    """The whole answer; always the last event of a stream that was not stopped."""

    type: Literal["final"] = "final"
    answer: Answer


AnswerEvent = Annotated[Union[Retrieved, Notice, Delta, ToolStep, ApprovalRequest, Final],
                        Field(discriminator="type")]
