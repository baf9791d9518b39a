"""`zhiku kb sync`, `kb sources`, `kb unfollow`: knowledge bases that follow folders."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from zhiku.cli import err, out, print_json, state
from zhiku.cli.commands_kb import kb_app
from zhiku.cli.text import plural, short_reason

if TYPE_CHECKING:
    from zhiku.schema.sources import SyncReport


def _summary(report: "SyncReport") -> str:
    parts = [f"{report.added} added", f"{report.replaced} changed", f"{report.renamed} renamed",
             f"{report.removed} removed", f"{report.unchanged} unchanged"]
    if report.skipped:
        parts.append(f"{report.skipped} skipped")
    parts += [f"{report.failed} failed", f"{plural(report.chunks, 'chunk')} ({report.embedded} newly embedded)"]
    return ", ".join(parts)


@kb_app.command("sync")
def kb_sync(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="KB", help="knowledge base"),
    paths: List[str] = typer.Argument(
        None, metavar="[FOLDER...]", help="folders to follow (each folder's files are named '<folder name>/...'); "
                                          "none: sync every folder the KB follows"),
    watch: Optional[bool] = typer.Option(
        None, "--watch/--no-watch", help="keep these folders in sync while the server runs (`zhiku start`), "
                                         "not only now; --no-watch stops that (default: as it was)"),
) -> None:
    """Make a knowledge base follow folders: new and changed files are ingested, deleted ones removed,
    renamed ones renamed (their chunks kept); unchanged files are only hashed.

    Run it again at any time (an interrupted sync resumes where it stopped), or give --watch and the
    server keeps the folders in sync while it runs."""
    from zhiku.cli.progress import IngestBar
    from zhiku.errors import InvalidInput
    from zhiku.ingest.sync_store import folder_to_follow

    sources = state(ctx).app().sources
    for p in paths or []:
        folder_to_follow(p)  # every folder named is one before any is followed
    targets = list(paths) if paths else [s.id for s in sources.list_sources(name)]
    if not targets:
        raise InvalidInput(f"knowledge base '{name}' follows no folder: give one, `zhiku kb sync {name} FOLDER`")
    failed = False
    for target in targets:
        if paths:
            followed = sources.follow(name, target, watch=watch)
            source, claimed = followed.source, followed.source if followed.claimed else None
            err.print(("following " if followed.new else "syncing ") + f"{source.path} as '{source.prefix}/…'"
                      + (" (watched while the server runs)" if source.watch else ""), markup=False)
        else:
            claimed = sources.claim(name, target)
            source = claimed or sources.get(name, target)
        if claimed is None:  # the server (or another `kb sync`) is syncing it: that sync is the one asked for
            err.print(f"{source.prefix}: being synced by {source.worker or 'another process'} now; "
                      f"`zhiku kb sources {name}` shows how it went", markup=False)
            continue
        with IngestBar(err) as bar:
            report = sources.sync(name, source.id, progress=bar, claimed=claimed)
        out.print(f"{source.prefix}: " + _summary(report), markup=False)
        for f in report.files:
            if f.outcome == "failed":
                failed = True
                err.print(f"failed: {f.name}: {short_reason(f.name, f.detail)}", markup=False)
            elif f.outcome in ("renamed", "removed"):
                err.print(f"{f.outcome}: {f.name} ({f.detail})", markup=False)
    if failed:
        raise typer.Exit(1)


@kb_app.command("sources")
def kb_sources(ctx: typer.Context, name: str = typer.Argument(..., metavar="KB", help="knowledge base"),
               as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List the folders a knowledge base follows and how their last sync went."""
    found = state(ctx).app().sources.list_sources(name)
    if as_json:
        print_json([s.model_dump(mode="json") for s in found])
        return
    if not found:
        out.print(f"'{escape(name)}' follows no folder: `zhiku kb sync KB FOLDER` makes it follow one")
        return
    table = Table("folder", "names", "watched", "status", "last sync")
    table.columns[0].overflow = "fold"
    for s in found:
        last = s.synced_at.strftime("%Y-%m-%d %H:%M") + ": " + _summary(s.report) if s.synced_at else "never"
        if s.error:
            last += f" — {s.error}"
        table.add_row(escape(s.path), escape(s.prefix + "/…"), "yes" if s.watch else "no", s.status, escape(last))
    out.print(table)


@kb_app.command("unfollow")
def kb_unfollow(ctx: typer.Context, name: str = typer.Argument(..., metavar="KB", help="knowledge base"),
                folder: str = typer.Argument(..., metavar="FOLDER", help="the folder (its path or its name)")) -> None:
    """Stop following a folder; the files it brought stay in the knowledge base (`zhiku kb remove` removes them)."""
    source = state(ctx).app().sources.remove(name, folder)
    out.print(f"'{escape(name)}' no longer follows {escape(source.path)}; its files stay")
