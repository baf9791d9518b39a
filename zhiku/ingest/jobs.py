"""Background ingestion jobs: uploads staged on disk, ingested by a bounded pool of threads.

A job is a row in the database (``jobs``) plus, while it is queued or running, an
in-memory run (``zhiku.ingest.job_manager``) that the worker thread updates and
watchers (the API's event streams) are told about. Uploaded bytes are staged under
``HOME/uploads/<job id>/<n>`` — generated names only; the uploaded file name is a
display name and never reaches the file system. Staged copies of files that did not make it into the KB (failed,
cancelled, interrupted) are kept so that ``retry`` can run them again.

Statuses: queued → running → done | failed | cancelled; a job queued or running when
the process died reads as ``interrupted`` at the next start. A job whose files
partly failed is ``done``; each file carries its own outcome and reason.
"""

from __future__ import annotations

import shutil
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from zhiku.errors import InvalidInput

JobStatus = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
FileOutcome = Literal["queued", "running", "added", "replaced", "skipped", "failed", "cancelled"]
ACTIVE = ("queued", "running")
KEPT = ("added", "replaced", "skipped")  # outcomes whose staged copy is no longer needed


class TooLarge(InvalidInput):
    """An upload over the size limits (HTTP 413)."""

    kind = "too_large"


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


def clean_upload_name(raw: str) -> str:
    """The display name of an uploaded file: its last path part, checked.

    Directories are stripped; ``..`` segments, NUL and control characters are refused.
    The name is only ever shown and matched, never used as a path."""
    name = unicodedata.normalize("NFC", raw or "")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InvalidInput(f"file name {name!r} contains control characters", name=name)
    parts = name.replace("\\", "/").split("/")
    if ".." in (p.strip() for p in parts):
        raise InvalidInput(f"file name {name!r} contains '..'", name=name)
    name = parts[-1].strip()
    if name in ("", "."):
        raise InvalidInput("an uploaded file has no name", name=raw)
    if len(name) > 255:
        raise InvalidInput("file names are at most 255 characters", name=name[:40] + "…")
    return name


class StagedFile:
    """One uploaded file being written to its staging path, within the limits."""

    def __init__(self, staging: "UploadStaging", path: Path, entry: JobFile) -> None:
        self.staging = staging
        self.entry = entry
        self._fh = path.open("xb")

    def write(self, data: bytes) -> None:
        s = self.staging
        if self.entry.size + len(data) > s.file_limit:
            raise TooLarge(f"'{self.entry.name}' is over the {s.file_limit >> 20} MB limit for one file",
                           file=self.entry.name, limit_mb=s.file_limit >> 20)
        if s.total + len(data) > s.total_limit:
            raise TooLarge(f"the upload is over the {s.total_limit >> 20} MB limit for one request",
                           limit_mb=s.total_limit >> 20)
        self._fh.write(data)
        self.entry.size += len(data)
        s.total += len(data)

    def close(self) -> None:
        self._fh.close()


class UploadStaging:
    """Where the files of one upload land before its job is submitted.

    ``discard()`` removes everything, so a refused upload leaves nothing behind."""

    def __init__(self, directory: Path, job_id: str, file_limit: int, total_limit: int) -> None:
        self.job_id = job_id
        self.directory = directory
        self.file_limit = file_limit
        self.total_limit = total_limit
        self.total = 0
        self.files: list[JobFile] = []
        directory.mkdir(parents=True, exist_ok=False)

    def add(self, raw_name: str) -> StagedFile:
        entry = JobFile(name=clean_upload_name(raw_name))
        self.files.append(entry)
        return StagedFile(self, self.directory / str(len(self.files) - 1), entry)

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
