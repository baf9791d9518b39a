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

import re
import shutil
import unicodedata
from pathlib import Path

from zhiku.errors import InvalidInput, TooLarge
from zhiku.schema.jobs import JobFile
from zhiku.schema.limits import FILE_NAME_MAX_CHARS, name_problem

KEPT = ("added", "replaced", "skipped")  # outcomes whose staged copy is no longer needed


_DRIVE = re.compile(r"^[A-Za-z]:")


def clean_upload_name(raw: str) -> str:
    """The name of an uploaded file in its KB: a relative path such as ``wiki/Home.MD`` (as
    ``zhiku kb add`` of a folder names files, and as Chatchat's clients send and store them), checked.

    The name is a label in the database, matched and shown, never a path on disk (stored copies
    are named by id); still, anything that would be a way out if it ever were one is refused:
    ``..`` segments, absolute paths, backslashes, drive letters, control, invisible and
    text-direction characters and lone surrogates. The name is NFC-normalised (macOS writes
    ``é`` decomposed); ``.`` and empty segments are dropped (``./a//b.md`` is ``a/b.md``)."""
    name = unicodedata.normalize("NFC", raw or "").strip()
    shown = name.encode("utf-8", "backslashreplace").decode("utf-8")
    problem = name_problem(name)
    if problem is None:
        if "\\" in name:
            problem = "it holds a backslash (folders are separated by '/')"
        elif name.startswith("/"):
            problem = "it is an absolute path (send a name relative to the knowledge base)"
        elif _DRIVE.match(name):
            problem = "it starts with a drive letter (send a name relative to the knowledge base)"
        elif ".." in (p.strip() for p in name.split("/")):
            problem = "it holds a '..' segment"
    if problem is not None:
        raise InvalidInput(f"file name '{shown}' is refused: {problem}", name=shown)
    parts = [p.strip() for p in name.split("/")]
    if parts[-1] in ("", "."):
        raise InvalidInput(f"an uploaded file has no name ('{shown}' names a folder)" if name else
                           "an uploaded file has no name", name=shown)
    name = "/".join(p for p in parts if p not in ("", "."))
    if len(name) > FILE_NAME_MAX_CHARS or any(len(p) > 255 for p in parts):
        raise InvalidInput(f"file names are at most {FILE_NAME_MAX_CHARS} characters", name=name[:40] + "…")
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
        """Stage the next file. A second file of the same name in one upload would replace the
        first without a word: it is failed instead (its bytes are still kept, for a retry)."""
        entry = JobFile(name=clean_upload_name(raw_name))
        if any(f.name == entry.name for f in self.files):
            entry.outcome = "failed"
            entry.detail = (f"another file of this upload is also named '{entry.name}': "
                            "only the first is added (rename one, or upload it on its own to replace it)")
        self.files.append(entry)
        return StagedFile(self, self.directory / str(len(self.files) - 1), entry)

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
