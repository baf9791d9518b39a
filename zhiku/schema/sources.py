"""The folders a knowledge base follows (``zhiku kb sync``) and what each sync did."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

SyncOutcome = Literal["added", "replaced", "renamed", "removed", "skipped", "failed"]
SourceStatus = Literal["idle", "syncing"]


class SyncedFile(BaseModel):
    """One file a sync changed, skipped or could not read (unchanged files are only counted)."""

    name: str
    outcome: SyncOutcome
    detail: str = ""


class SyncReport(BaseModel):
    """A sync's progress while it runs, its outcome once done."""

    started_at: datetime | None = None
    finished_at: datetime | None = None
    files_total: int = Field(0, description="files in the folder plus files of the KB gone from it")
    files_done: int = 0
    current: str = Field("", description="the file being read or embedded now")
    unchanged: int = 0
    added: int = 0
    replaced: int = 0
    renamed: int = 0
    removed: int = 0
    skipped: int = 0
    failed: int = 0
    chunks: int = Field(0, description="chunks of the files added or replaced")
    embedded: int = Field(0, description="chunks whose vectors were computed (not taken from the cache)")
    cancelled: bool = False
    files: list[SyncedFile] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.cancelled


class KBSource(BaseModel):
    """A folder a KB follows: its files are the KB's files named ``<prefix>/...``."""

    id: str
    kb_id: str
    kind: Literal["folder"] = "folder"
    path: str = Field(description="the folder, on the server's file system")
    prefix: str = Field(description="the KB names the folder's files '<prefix>/<path in the folder>'")
    watch: bool = Field(description="kept in sync while the server runs")
    status: SourceStatus
    worker: str | None = Field(None, description="the process syncing it (host:pid) while syncing")
    error: str | None = Field(None, description="why the last sync could not run, if it could not")
    created_at: datetime
    synced_at: datetime | None = None
    report: SyncReport = Field(default_factory=SyncReport)
