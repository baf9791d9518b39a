"""`zhiku kb summary NAME [FILE] [--refresh]`: a knowledge base's summary, or one file's."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape

from zhiku.cli import out, print_json, state
from zhiku.cli.commands_kb import kb_app

if TYPE_CHECKING:
    from zhiku.schema.summaries import Summary


@kb_app.command("summary")
def kb_summary(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="KB", help="knowledge base"),
    file: Optional[str] = typer.Argument(None, metavar="[FILE]", help="a file's name as `zhiku kb files` lists it "
                                                                      "(folders included), or its id"),
    refresh: bool = typer.Option(False, "--refresh", help="make it again now (a stale one is made again anyway)"),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="the chat model that writes it (default: "
                                                                    "llm.default)"),
    extractive: bool = typer.Option(False, "--extractive", help="quote the most central sentences (no model)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Show the summary of a knowledge base (from its description and its files' summaries) or of
    one of its files: written by the chat model (map-reduce over the file's chunks), or, without
    one, its most central sentences, labelled extractive. Made and stored on first use; made again
    when the file or the KB's files changed, or with --refresh."""
    backend = state(ctx).backend()
    again = refresh or model is not None or extractive
    summary: Summary
    from zhiku.cli.remote import RemoteBackend

    if isinstance(backend, RemoteBackend):  # --server: through the API
        client = backend.client
        summary = (client.make_summary(name, file, model=model, extractive=extractive) if again
                   else client.summary(name, file))
    elif file is None:
        summary = backend.summaries.of_kb(name, refresh=again, model=model, extractive=extractive)
    else:
        summary = backend.summaries.file(name, file, refresh=again, model=model, extractive=extractive)
    if as_json:
        print_json(summary.model_dump(mode="json"))
        return
    what = f"{escape(summary.kb)} / {escape(summary.file)}" if summary.file else escape(summary.kb)
    covers = f", {summary.files} files" if summary.files is not None else ""
    out.print(f"[bold]{what}[/bold] ({escape(summary.label)}{covers}; {summary.created_at:%Y-%m-%d %H:%M} UTC)")
    out.print(summary.text, markup=False)
