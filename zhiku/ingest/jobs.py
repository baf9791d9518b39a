"""Background ingestion jobs: uploads staged on disk, ingested by a bounded pool of threads.

The job itself (``Job``, ``JobFile``, ``JobStatus``, ``ACTIVE``) is a noun of ``zhiku.schema.jobs``.
A job is a row in the database (``jobs``) plus, while it is queued or running, an
in-memory run (``zhiku.ingest.job_manager``) that the worker thread updates and
watchers (the API's event streams) are told about. Uploaded bytes are staged under
``HOME/uploads/<job id>/<n>`` — generated names only; the uploaded file name is a
display name and never reaches the file system. Staged copies of files that did not make it into the KB (failed,
cancelled, interrupted) are kept so that ``retry`` can run them again.
"""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

from zhiku.errors import InvalidInput, TooLarge
from zhiku.schema.jobs import JobFile
from zhiku.schema.limits import name_problem

KEPT = ("added", "replaced", "skipped")  # outcomes whose staged copy is no longer needed


def clean_upload_name(raw: str) -> str:
    """The display name of an uploaded file: its last path part, checked.

    Directories are stripped; ``..`` segments, control, invisible and text-direction characters
    and lone surrogates are refused; the name is NFC-normalised (macOS writes ``é`` decomposed).
    The name is only ever shown and matched, never used as a path."""
    name = unicodedata.normalize("NFC", raw or "")
    problem = name_problem(name)
    if problem is not None:
        shown = name.encode("utf-8", "backslashreplace").decode("utf-8")
        raise InvalidInput(f"file name '{shown}' is refused: {problem}", name=shown)
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
