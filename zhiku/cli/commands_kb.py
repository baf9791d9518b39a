"""`zhiku kb ...`: create, list, inspect and fill knowledge bases."""

from __future__ import annotations

from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from zhiku.cli import app, err, out, print_json, state

kb_app = typer.Typer(help="Create, fill and maintain knowledge bases.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


@kb_app.command("create")
def kb_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="name (Chinese is fine; no / \\ : * ? \" < > |)"),
    description: str = typer.Option("", "--description", "-d", help="what the KB holds"),
    embedder: Optional[str] = typer.Option(None, "--embedder", "-e", help="embedder name (default from settings)"),
) -> None:
    """Create an empty knowledge base."""
    kb = state(ctx).backend().create_kb(name, description, embedder)
    out.print(f"created knowledge base '{escape(kb.name)}' (embedder {kb.embedder}, {kb.dimensions} dimensions)")


@kb_app.command("list")
def kb_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List knowledge bases."""
    kbs = state(ctx).backend().list_kbs()
    if as_json:
        print_json([k.model_dump(mode="json") for k in kbs])
        return
    if not kbs:
        out.print("no knowledge bases yet: create one with `zhiku kb create NAME`")
        return
    table = Table("name", "files", "chunks", "embedder", "description")
    for k in kbs:
        table.add_row(escape(k.name), str(k.files), str(k.chunks), k.embedder, escape(k.description))
    out.print(table)


@kb_app.command("info")
def kb_info(ctx: typer.Context, name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show one knowledge base."""
    a = state(ctx).backend()
    kb = a.kb(name)
    files = a.list_files(name)
    info = kb.model_dump(mode="json")
    info["failed_files"] = sum(1 for f in files if f.status == "failed")
    info["pending_files"] = sum(1 for f in files if f.status == "pending")
    if as_json:
        print_json(info)
        return
    for key in ("name", "description", "embedder", "dimensions", "files", "chunks", "failed_files",
                "pending_files", "chunk_size", "chunk_overlap", "created_at", "updated_at", "id"):
        out.print(f"{key:>14}: {escape(str(info[key]))}")


@kb_app.command("delete")
def kb_delete(
    ctx: typer.Context, name: str, yes: bool = typer.Option(False, "--yes", "-y", help="do not ask")
) -> None:
    """Delete a knowledge base, its files and indexes."""
    a = state(ctx).backend()
    kb = a.kb(name)
    if not yes:
        if not typer.confirm(f"Delete knowledge base '{kb.name}' with {kb.files} files and {kb.chunks} chunks?"):
            err.print("nothing deleted")
            raise typer.Exit(1)
    a.delete_kb(name)
    out.print(f"deleted knowledge base '{escape(name)}'")


@kb_app.command("add")
def kb_add(
    ctx: typer.Context,
    name: str,
    paths: List[str] = typer.Argument(..., help="files, folders (recursive) or glob patterns"),
    force: bool = typer.Option(False, "--force", help="re-ingest files even when unchanged"),
) -> None:
    """Add files to a knowledge base (unchanged files are skipped)."""
    from zhiku.cli.progress import IngestBar

    a = state(ctx).backend()
    a.kb(name)  # fail fast on a missing KB
    with IngestBar(err) as bar:
        report = a.add_files(name, paths, force=force, progress=bar)
    parts = [f"{len(report.added)} added", f"{len(report.replaced)} replaced",
             f"{len(report.skipped)} skipped", f"{len(report.failed)} failed",
             f"{report.chunks} chunks ({report.embedded} newly embedded)"]
    out.print("summary: " + ", ".join(parts))
    for fname, why in report.failed:
        err.print(f"failed: {fname}: {why}", markup=False)
    if report.failed:
        raise typer.Exit(1)


@kb_app.command("files")
def kb_files(ctx: typer.Context, name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """List the files of a knowledge base with their status."""
    files = state(ctx).backend().list_files(name)
    if as_json:
        print_json([f.model_dump(mode="json") for f in files])
        return
    table = Table("file", "status", "chunks", "pages", "size", "added", "error")
    for f in files:
        table.add_row(escape(f.name), f.status, str(f.chunks), str(f.pages or ""), _size(f.size),
                      f.created_at.strftime("%Y-%m-%d %H:%M"), escape(f.error or ""))
    out.print(table)


@kb_app.command("remove")
def kb_remove(ctx: typer.Context, name: str, files: List[str] = typer.Argument(..., help="file names or ids")) -> None:
    """Remove files from a knowledge base."""
    removed = state(ctx).backend().remove_files(name, files)
    out.print(f"removed {len(removed)} file(s): " + ", ".join(escape(r) for r in removed))


@kb_app.command("chunks")
def kb_chunks(ctx: typer.Context, name: str, file: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show the chunks of one file."""
    record, chunks = state(ctx).backend().file_chunks(name, file)
    if as_json:
        print_json([c.model_dump(mode="json") for c in chunks])
        return
    out.print(f"[bold]{escape(record.name)}[/]: {len(chunks)} chunks ({record.status})")
    for c in chunks:
        where = " ".join(x for x in (
            f"p.{c.page}" if c.page else "", " > ".join(c.section)) if x)
        out.print(f"\n[bold cyan]#{c.seq}[/] [dim]id {c.id} {escape(where)}[/]")
        out.print(escape(c.text), markup=True)


@kb_app.command("rebuild")
def kb_rebuild(ctx: typer.Context, name: str) -> None:
    """Re-derive the vector and BM25 indexes from the database."""
    n = state(ctx).backend().rebuild(name)
    out.print(f"rebuilt indexes of '{escape(name)}': {n} chunks")


@kb_app.command("check")
def kb_check(ctx: typer.Context, name: str, repair: bool = typer.Option(False, "--repair", help="fix what is found")) -> None:
    """Check that database, stored files and indexes agree."""
    a = state(ctx).backend()
    problems = a.check(name, repair=repair)
    remaining = a.check(name) if repair and problems else problems
    for p in problems:
        if repair and p not in remaining:
            out.print(f"repaired: {p}", markup=False)
    for p in remaining:
        err.print(f"problem: {p}", markup=False)
    if not remaining:
        out.print(f"'{escape(name)}' is consistent")
        return
    if not repair:
        err.print("run `zhiku kb check NAME --repair` to fix what can be fixed", markup=False)
    raise typer.Exit(1)
