"""`zhiku import chatchat PATH`: move in from Langchain-Chatchat 0.3 (its data folder, read only)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from zhiku.cli import app, err, out, state
from zhiku.cli.text import plural, short_reason

import_app = typer.Typer(help="Bring knowledge bases over from another system.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("chatchat")
def import_chatchat(
    ctx: typer.Context,
    path: str = typer.Argument(..., metavar="PATH", help="Chatchat's data folder (holding knowledge_base/info.db), "
                                                         "its knowledge_base folder, or Chatchat's root"),
    only: Optional[List[str]] = typer.Option(None, "--kb", help="import only this knowledge base (repeatable)"),
) -> None:
    """Create Chatchat's knowledge bases in zhiku: names, descriptions and the files of each
    content/ folder (named as Chatchat names them, wiki/Home.MD), embedded by zhiku. Nothing in
    PATH changes. A knowledge base that exists in zhiku already gets the files it lacks (unchanged
    ones are skipped), so running the import again finishes an interrupted one. Ends with what could
    not be brought over (custom chunk edits, files missing from content/, failed files)."""
    from zhiku.cli.progress import IngestBar
    from zhiku.errors import InvalidInput, NotFound, ZhikuError
    from zhiku.ingest.import_chatchat import read_chatchat

    a = state(ctx).app()  # local homes only: the files are read from this machine
    data = read_chatchat(Path(path))
    kbs = data.kbs
    if only:
        unknown = sorted(set(only) - {kb.name for kb in kbs})
        if unknown:
            raise InvalidInput(f"not in {data.root}: {', '.join(unknown)} (it holds: "
                               f"{', '.join(kb.name for kb in kbs) or 'no knowledge base'})")
        kbs = [kb for kb in kbs if kb.name in only]
    if not kbs:
        raise InvalidInput(f"{data.root} holds no knowledge base")
    out.print(f"importing {plural(len(kbs), 'knowledge base')} from {escape(str(data.root))}")
    not_brought: list[str] = []
    failures = 0  # knowledge bases not created and files that failed: exit status 1
    for n, kb in enumerate(kbs, 1):
        try:
            try:
                a.kb(kb.name)
                note = "exists in zhiku: adding what it lacks"
            except NotFound:
                a.create_kb(kb.name, kb.description)
                note = "created"
        except ZhikuError as exc:
            not_brought.append(f"{kb.name}: the knowledge base: {exc.message}")
            failures += 1
            err.print(f"[{n}/{len(kbs)}] {kb.name}: not created: {exc.message}", markup=False)
            continue
        err.print(f"[{n}/{len(kbs)}] {kb.name} ({note}): {plural(len(kb.files), 'file')}", markup=False)
        not_brought += [f"{kb.name}: {line}" for line in kb.not_brought]
        if not kb.files:
            continue
        with IngestBar(err) as bar:
            report = a.add_sources(kb.name, kb.files, progress=bar)
        out.print(f"{escape(kb.name)}: {len(report.added)} added, {len(report.replaced)} replaced, "
                  f"{len(report.skipped)} unchanged, {len(report.failed)} failed, {plural(report.chunks, 'chunk')}")
        for fname, why in report.failed:
            failures += 1
            not_brought.append(f"{kb.name}: {fname}: {short_reason(fname, why)}")
    for note_line in data.notes:
        out.print(f"note: {note_line}", markup=False)
    if not_brought:
        out.print(f"not brought over ({len(not_brought)}):")
        for line in not_brought:
            out.print(f"  {line}", markup=False)
    else:
        out.print("everything was brought over")
    if failures:
        raise typer.Exit(1)
