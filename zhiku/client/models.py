"""Request and response bodies of the API that are not already nouns of ``zhiku.schema``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from zhiku.schema import SearchMode, limits


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


KBNames = Annotated[list[Annotated[str, Field(max_length=limits.KB_NAME_MAX_CHARS)]], Field(
    min_length=1, max_length=limits.KB_NAMES_MAX, description="knowledge bases, one or several")]


class KBCreate(_Body):
    name: str = Field(min_length=1, max_length=limits.KB_NAME_MAX_CHARS,
                      description="Chinese is fine; no / \\ : * ? \" < > |")
    description: str = Field("", max_length=limits.DESCRIPTION_MAX_CHARS)
    embedder: str | None = Field(None, max_length=limits.NAME_MAX_CHARS,
                                 description="embedder name (default: embedding.default)")


class KBUpdate(_Body):
    name: str | None = Field(None, min_length=1, max_length=limits.KB_NAME_MAX_CHARS, description="new name")
    description: str | None = Field(None, max_length=limits.DESCRIPTION_MAX_CHARS)


class ChunkEdit(_Body):
    text: str = Field(min_length=1, max_length=limits.CHUNK_TEXT_MAX_CHARS,
                      description="the new text; it is re-embedded")


class SearchRequest(_Body):
    kbs: KBNames
    query: str = Field(min_length=1, max_length=limits.QUESTION_MAX_CHARS)
    top_k: int | None = Field(None, ge=1, le=200, description="hits (default: retrieval.top_k)")
    mode: SearchMode | None = Field(None, description="hybrid (default), dense or lexical")
    file: str | None = Field(None, max_length=limits.FILE_NAME_MAX_CHARS,
                             description="only files whose name matches this glob")
    rerank: str | None = Field(None, max_length=100, description="reranker for this call: none, coverage, http, onnx "
                               "or a plugin's (default: retrieval.rerank)")


class AskRequest(_Body):
    kbs: KBNames
    question: str = Field(min_length=1, max_length=limits.QUESTION_MAX_CHARS)
    top_k: int | None = Field(None, ge=1, le=200, description="passages retrieved (default: retrieval.top_k)")
    mode: SearchMode | None = None
    stream: bool = Field(False, description="answer as a text/event-stream: delta events, citations, done")
    rerank: str | None = Field(None, max_length=100, description="reranker for this call: none, coverage, http, onnx "
                               "or a plugin's (default: retrieval.rerank)")


class Health(BaseModel):
    status: str
    database: str
    jobs_running: int
    version: str


class Version(BaseModel):
    name: str = "zhiku"
    version: str
    api: int = 1


class Embedders(BaseModel):
    default: str
    names: list[str]


class RebuildResult(BaseModel):
    kb: str
    chunks: int = Field(description="chunks in the rebuilt vector and BM25 indexes")


class CheckResult(BaseModel):
    kb: str
    consistent: bool = Field(description="true when nothing is (or, after repair, remains) wrong")
    problems: list[str] = Field(description="what was found wrong (before any repair)")
    repaired: list[str] = Field(default_factory=list, description="problems the repair fixed")
    remaining: list[str] = Field(default_factory=list, description="problems still there")


class ChatModelInfo(BaseModel):
    name: str = Field(description="what a conversation or `model` field names it by")
    type: str = Field(description="openai (any OpenAI-compatible server) or llamacpp (a local GGUF file)")
    target: str = Field(description="the server's base URL, or the GGUF file")
    model: str | None = Field(None, description="the model name sent to the server")
    source: str = Field(description="config, pulled (zhiku model pull) or detected (a local Ollama / llama.cpp server)")
    default: bool = Field(False, description="answers when no model is named")
    reachable: bool | None = Field(None, description="answers now (null: not checked)")
    reason: str | None = Field(None, description="why it is not reachable")
