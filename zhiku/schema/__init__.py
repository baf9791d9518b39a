"""The nouns every layer speaks: knowledge bases, files, chunks, hits, answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

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

    def public(self) -> dict[str, Any]:
        return self.model_dump(exclude={"meta"})


class Citation(Hit):
    n: int


class Answer(BaseModel):
    answer: str
    found: bool
    citations: list[Citation]
    lang: str
    mode: str = "extractive"
    best_score: float = 0.0
