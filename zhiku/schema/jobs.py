"""The nouns of background ingestion jobs: a job, its files and their outcomes.

They cross every layer unchanged: the job manager (``zhiku.ingest.job_manager``) keeps them,
the API sends them, the typed client (``zhiku.client``) gives them back. Uploads are staged
on disk by ``zhiku.ingest.jobs``, which the client never needs.

Statuses: queued → running → done | failed | cancelled. Any process with ingestion on claims a
queued job (``zhiku.ingest.claims``); a job whose process stopped is given back (a clean stop) or
taken over when its lease runs out (a crash), and finished by another. ``interrupted`` is what
jobs of zhiku before 0.2 read as after a crash. A job whose files partly failed is ``done``; each
file carries its own outcome and reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

JobStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
FileOutcome = Literal["queued", "running", "added", "replaced", "skipped", "failed", "cancelled"]
ACTIVE = ("queued", "running")


class JobFile(BaseModel):
    name: str
    size: int = 0
    outcome: FileOutcome = "queued"
    detail: str = ""
    staged: bool = True  # its bytes are still held for a retry


class Job(BaseModel):
    id: str
    kb_id: str
    kb: str
    kind: Literal["upload", "reingest", "retry"]
    status: JobStatus
    force: bool = False
    files: list[JobFile]
    files_total: int = 0
    files_done: int = 0
    files_failed: int = 0
    current_file: str | None = None
    chunks_total: int = 0
    chunks_embedded: int = 0
    progress: float = 0.0  # 0..1
    cancel_requested: bool = False
    worker: str | None = None  # the process running it (host:pid:tag), while it runs
    error: str | None = None
    retry_of: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime

    def recount(self, current_fraction: float = 0.0) -> None:
        self.files_total = len(self.files)
        self.files_done = sum(1 for f in self.files if f.outcome not in ("queued", "running"))
        self.files_failed = sum(1 for f in self.files if f.outcome == "failed")
        self.current_file = next((f.name for f in self.files if f.outcome == "running"), None)
        if self.status in ACTIVE:
            done = self.files_done + (current_fraction if self.current_file else 0.0)
            self.progress = round(min(done / self.files_total, 1.0), 4) if self.files_total else 0.0
        elif self.status == "done":
            self.progress = 1.0
