"""The progress bar of `kb add`: files, chunks, embedding rate and ETA."""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from zhiku.cli.text import short_reason


class IngestBar:
    """Implements zhiku.ingest.pipeline.IngestProgress on a rich progress display."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.files: TaskID | None = None
        self.chunks: TaskID | None = None
        self._started = time.monotonic()
        self._embedded = 0

    def __enter__(self) -> "IngestBar":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def files_found(self, total: int) -> None:
        self.files = self.progress.add_task("files", total=total, rate="")
        self.chunks = self.progress.add_task("chunks", total=0, rate="")

    def file_started(self, name: str, chunks: int) -> None:
        assert self.chunks is not None
        task = self.progress.tasks[self.chunks]
        self.progress.update(self.chunks, total=(task.total or 0) + chunks, description=f"chunks of {name[-40:]}")

    def chunks_embedded(self, n: int) -> None:
        assert self.chunks is not None
        self._embedded += n
        elapsed = max(time.monotonic() - self._started, 1e-6)
        self.progress.update(self.chunks, advance=n, rate=f"{self._embedded / elapsed:.1f} chunks/s")

    def file_finished(self, name: str, outcome: str, detail: str = "") -> None:
        assert self.files is not None
        style = {"failed": "red", "skipped": "yellow"}.get(outcome, "green")
        if outcome == "failed":
            detail = short_reason(name, detail)
        line = f"[{style}]{outcome:>8}[/] {escape(name)}" + (f"  ({escape(detail)})" if detail else "")
        self.progress.console.print(line, markup=True, highlight=False)
        self.progress.update(self.files, advance=1)
