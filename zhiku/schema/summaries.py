"""Summaries of a knowledge base and of its files (``zhiku.chat.summaries``), as every face shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SummaryKind = Literal["llm", "extractive"]
EXTRACTIVE_LABEL = "extractive summary: the file's most central sentences, quoted (no language model)"
EXTRACTIVE_KB_LABEL = "extractive summary: the most central sentences of the files' summaries (no language model)"


class Summary(BaseModel):
    """A file's summary (``file`` set) or a KB's (``file`` None), with what made it and when."""

    kb: str
    file: str | None = Field(None, description="the file's name; None for the KB's own summary")
    file_id: str | None = None
    kind: SummaryKind = Field(description="llm: written by the chat model ``model``; extractive: quoted sentences")
    model: str | None = Field(None, description="the chat model that wrote it (None: extractive)")
    label: str = Field(description="how it was made, in words; shown wherever the summary is")
    text: str
    created_at: datetime
    files: int | None = Field(None, description="a KB's summary: the files it covers")
    stale: bool = Field(False, description="the file changed since (listed summaries only: a read makes it again)")


def label_for(kind: str, model: str | None, kb_level: bool = False) -> str:
    if kind == "extractive":
        return EXTRACTIVE_KB_LABEL if kb_level else EXTRACTIVE_LABEL
    return f"summary written by the chat model '{model}'"


class SummaryRequest(BaseModel):
    """``POST .../summary``: make the summary again now."""

    model_config = {"extra": "forbid"}

    model: str | None = Field(None, max_length=200, description="the chat model that writes it (default: llm.default)")
    extractive: bool = Field(False, description="quote the most central sentences instead (no model)")
    files: bool = Field(False, description="a KB's summary: make every file's summary again too, not only the stale ones")
