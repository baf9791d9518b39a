"""What an ingestion is given and what it reports: the files to add (``Source``, found by
``expand_paths``, with the batch's name clashes), the progress callbacks and the report."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol, Sequence

from zhiku.errors import InvalidInput
from zhiku.schema.jobs import FileOutcome


class IngestProgress(Protocol):
    def files_found(self, total: int) -> None: ...
    def file_started(self, name: str, chunks: int) -> None: ...
    def chunks_embedded(self, n: int) -> None: ...
    def file_finished(self, name: str, outcome: FileOutcome, detail: str = "") -> None: ...


class _Silent:
    def files_found(self, total: int) -> None: ...
    def file_started(self, name: str, chunks: int) -> None: ...
    def chunks_embedded(self, n: int) -> None: ...
    def file_finished(self, name: str, outcome: FileOutcome, detail: str = "") -> None: ...


@dataclass
class Source:
    """A file to ingest: where its bytes are and the name it gets in the KB."""

    path: Path
    name: str
    doc_key: str | None = None


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


def _hidden(part: str) -> bool:
    return part.startswith(".") and part not in (".", "..")


def expand_paths(paths: Iterable[str | Path]) -> list[Source]:
    """Files, folders (recursively, hidden entries skipped) and glob patterns, in a stable order."""
    out: list[Source] = []
    seen: set[Path] = set()

    def take(p: Path, name: str) -> None:
        rp = p.resolve()
        if rp not in seen:
            seen.add(rp)
            out.append(Source(p, name))

    for raw in paths:
        text = str(raw)
        matches = [Path(m) for m in sorted(glob.glob(text, recursive=True))] if glob.has_magic(text) else [Path(text)]
        if not matches:
            raise InvalidInput(f"no files match '{text}'", path=text)
        for p in matches:
            if p.is_dir():
                for sub in sorted(p.rglob("*")):
                    rel = sub.relative_to(p)
                    if sub.is_file() and not any(_hidden(x) for x in rel.parts):
                        take(sub, (Path(p.resolve().name) / rel).as_posix())
            elif p.is_file():
                take(p, p.name)
            elif not p.exists():
                raise InvalidInput(f"no such file or folder: {p}", path=str(p))
    return out


def name_clashes(sources: Sequence[Source]) -> dict[int, tuple[Source, str]]:
    """The sources of one batch whose name an earlier one already has (``a/x.md`` and ``b/x.md``
    given as files are both ``x.md``): each with the reason it is refused, by position."""
    first: dict[str, Source] = {}
    out: dict[int, tuple[Source, str]] = {}
    for i, src in enumerate(sources):
        earlier = first.setdefault(src.name, src)
        if earlier is not src:
            out[i] = (src, f"another file of this batch is also named '{src.name}' ({earlier.path}); add their "
                           "folder to keep both under their folder names, or add them one at a time")
    return out
