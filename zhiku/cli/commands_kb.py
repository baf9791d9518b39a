"""`zhiku kb ...`: create, list, inspect and fill knowledge bases."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from zhiku.cli import app, err, out, print_json, state
from zhiku.cli.text import plural, short_reason

if TYPE_CHECKING:
    from zhiku.schema import FileRecord

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
    name: str = typer.Argument(..., metavar="NAME", help="name (Chinese is fine; no / \\ : * ? \" < > |)"),
    description: str = typer.Option("", "--description", "-d", help="what the KB holds"),
    embedder: Optional[str] = typer.Option(None, "--embedder", "-e", help="embedder name (default from settings)"),
) -> None:
    """Create an empty knowledge base."""
    kb = state(ctx).backend().create_kb(name, description, embedder)
    out.print(f"created knowledge base '{escape(kb.name)}' (embedder {kb.embedder}, {kb.dimensions} dimensions)")


@kb_app.command("list")
def kb_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List knowledge bases (files: all that `kb files` lists, the failed and pending ones named)."""
    a = state(ctx).backend()
    kbs = a.list_kbs()
    counts = [_file_counts(a.list_files(k.name)) for k in kbs]
    if as_json:  # "files" counts the indexed (searchable) ones, as in `kb info --json`
        print_json([{**k.model_dump(mode="json"), **c} for k, c in zip(kbs, counts)])
        return
    if not kbs:
        out.print("no knowledge bases yet: create one with `zhiku kb create NAME`")
        return
    table = Table("name", "files", "chunks", "embedder", "description")
    for k, c in zip(kbs, counts):
        files = file_count(c["all_files"], c["failed_files"], c["pending_files"])
        table.add_row(escape(k.name), files, str(k.chunks), k.embedder, escape(k.description))
    out.print(table)


def _file_counts(files: list[FileRecord]) -> dict[str, int]:
    return {"all_files": len(files), "failed_files": sum(1 for f in files if f.status == "failed"),
            "pending_files": sum(1 for f in files if f.status == "pending")}


@kb_app.command("info")
def kb_info(ctx: typer.Context, name: str = typer.Argument(..., metavar="KB", help="knowledge base"), as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Show one knowledge base."""
    a = state(ctx).backend()
    kb = a.kb(name)
    files = a.list_files(name)
    info = kb.model_dump(mode="json")
    info.update(_file_counts(files))  # all_files: what `kb files` lists; "files" counts the indexed ones
    if as_json:
        print_json(info)
        return
    for key in ("name", "description", "embedder", "dimensions", "files", "chunks", "chunk_size",
                "chunk_overlap", "created_at", "updated_at", "id"):
        value = file_count(len(files), info["failed_files"], info["pending_files"]) if key == "files" else info[key]
        out.print(f"{key:>14}: {escape(str(value))}")


def file_count(total: int, failed: int, pending: int) -> str:
    """A KB's files as `kb files` lists them: all of them, with those not searchable named."""
    notes = [f"{n} {what}" for n, what in ((failed, "failed"), (pending, "pending")) if n]
    return plural(total, "file") + (f" ({', '.join(notes)})" if notes else "")


@kb_app.command("delete")
def kb_delete(
    ctx: typer.Context, name: str = typer.Argument(..., metavar="KB", help="knowledge base"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask")
) -> None:
    """Delete a knowledge base, its files and indexes."""
    a = state(ctx).backend()
    kb = a.kb(name)
    if not yes:
        if not typer.confirm(f"Delete knowledge base '{kb.name}' with {plural(kb.files, 'file')} and {plural(kb.chunks, 'chunk')}?"):
            err.print("nothing deleted")
            raise typer.Exit(1)
    a.delete_kb(name)
    out.print(f"deleted knowledge base '{escape(name)}'")


@kb_app.command("add")
def kb_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="KB", help="knowledge base"),
    paths: List[str] = typer.Argument(
        ..., metavar="PATH...", help="files, folders (recursive) and patterns; a pattern picks files of the "
                                     "folders given (\"*.pdf\"), or of the current folder when none is given"),
    force: bool = typer.Option(False, "--force", help="re-ingest files even when unchanged"),
) -> None:
    """Add files to a knowledge base (unchanged files are skipped).

    A folder's files are named by their path under the folder, starting with the folder's name
    (handbook/leave/policy.pdf); a file given by itself by its file name, unless the knowledge
    base holds it from its folder already (then it replaces that file)."""
    from zhiku.cli.paths import expand
    from zhiku.cli.progress import IngestBar
    from zhiku.errors import InvalidInput

    a = state(ctx).backend()
    a.kb(name)  # fail fast on a missing KB
    found = expand(paths, existing=[f.name for f in a.list_files(name)])
    if not found.sources:  # one line: what each argument found (nothing)
        raise InvalidInput("nothing added: " + "; ".join(found.warnings or ["no files found"]))
    for warning in found.warnings:
        err.print(f"warning: {warning}", markup=False)
    with IngestBar(err) as bar:
        report = a.add_sources(name, found.sources, force=force, progress=bar)
    parts = [f"{len(report.added)} added", f"{len(report.replaced)} replaced",
             f"{len(report.skipped)} skipped", f"{len(report.failed)} failed",
             f"{plural(report.chunks, 'chunk')} ({report.embedded} newly embedded)"]
    out.print("summary: " + ", ".join(parts))
    for fname, why in report.failed:
        err.print(f"failed: {fname}: {short_reason(fname, why)}", markup=False)
    if report.failed:
        raise typer.Exit(1)


@kb_app.command("files")
def kb_files(ctx: typer.Context, name: str = typer.Argument(..., metavar="KB", help="knowledge base"), as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List the files of a knowledge base with their status (the reasons of failed ones below)."""
    files = state(ctx).backend().list_files(name)
    if as_json:
        print_json([f.model_dump(mode="json") for f in files])
        return
    if not files:
        out.print(f"'{escape(name)}' holds no files yet: add some with `zhiku kb add {escape(_quoted(name))} PATH...`")
        return
    # the name takes what is left of the width and wraps (never cut to a shared prefix); reasons
    # are listed under the table, where they have the whole line
    table = Table("file", "status", "chunks", "pages", "size", "added")
    table.columns[0].overflow = "fold"
    for col in table.columns[1:]:
        col.no_wrap = True
    for f in files:
        table.add_row(escape(f.name), f.status, str(f.chunks), str(f.pages or ""), _size(f.size),
                      f.created_at.strftime("%Y-%m-%d %H:%M"))
    out.print(table)
    for f in files:
        if f.error:
            out.print(f"{f.status}: {escape(f.name)}: {escape(short_reason(f.name, f.error))}")


def _quoted(name: str) -> str:
    """A name as typed into a shell (quoted when it holds a space or a shell character)."""
    import re
    import shlex

    return name if re.fullmatch(r"[\w@%+=:,./-]+", name) else shlex.quote(name)


@kb_app.command("remove")
def kb_remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="KB", help="knowledge base"),
    files: List[str] = typer.Argument(..., metavar="FILE...", help="file names, ids or patterns (\"drafts/*\", \"*.tmp\")"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask before removing what a pattern matched"),
) -> None:
    """Remove files from a knowledge base, by name, id or pattern."""
    from zhiku.cli.paths import is_pattern, matches, nfc
    from zhiku.errors import NotFound

    a = state(ctx).backend()
    a.kb(name)
    listed = a.list_files(name)
    names = {f.name for f in listed}
    chosen: list[str] = []
    missing: list[str] = []
    patterned = False
    for given in files:
        if nfc(given) in names or any(f.id == given for f in listed):
            chosen.append(given)
        elif is_pattern(given):
            hits = sorted(n for n in names if matches(n, given))
            patterned = patterned or bool(hits)
            if hits:
                chosen.extend(hits)
            else:
                missing.append(f"no file in '{name}' matches '{given}'")
        else:
            missing.append(f"no file '{given}' in knowledge base '{name}'")
    chosen = list(dict.fromkeys(chosen))
    if not chosen:
        raise NotFound("; ".join(missing))
    for why in missing:
        err.print(f"warning: {why}", markup=False)
    if patterned and not yes:
        err.print("\n".join(escape(c) for c in chosen))
        if not typer.confirm(f"Remove these {plural(len(chosen), 'file')} from '{name}'?"):
            err.print("nothing removed")
            raise typer.Exit(1)
    removed = a.remove_files(name, chosen)
    out.print(f"removed {plural(len(removed), 'file')}: " + ", ".join(escape(r) for r in removed))


@kb_app.command("chunks")
def kb_chunks(
    ctx: typer.Context, name: str = typer.Argument(..., metavar="KB", help="knowledge base"),
    file: str = typer.Argument(..., metavar="FILE", help="its name in the KB (as `kb files` shows it) or id"),
    as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Show the chunks of one file."""
    record, chunks = state(ctx).backend().file_chunks(name, file)
    if as_json:
        print_json([c.model_dump(mode="json") for c in chunks])
        return
    out.print(f"[bold]{escape(record.name)}[/]: {plural(len(chunks), 'chunk')} ({record.status})")
    for c in chunks:
        where = " ".join(x for x in (
            f"p.{c.page}" if c.page else "", " > ".join(c.section)) if x)
        out.print(f"\n[bold cyan]#{c.seq}[/] [dim]id {c.id} {escape(where)}[/]")
        out.print(escape(c.text), markup=True)


@kb_app.command("rebuild")
def kb_rebuild(ctx: typer.Context, name: str = typer.Argument(..., metavar="KB", help="knowledge base")) -> None:
    """Re-derive the vector and BM25 indexes from the database."""
    n = state(ctx).backend().rebuild(name)
    out.print(f"rebuilt indexes of '{escape(name)}': {plural(n, 'chunk')}")


@kb_app.command("check")
def kb_check(ctx: typer.Context, name: str = typer.Argument(..., metavar="KB", help="knowledge base"),
             repair: bool = typer.Option(False, "--repair", help="fix what is found")) -> None:
    """Check that database, stored files and indexes agree (--repair fixes what can be fixed)."""
    from zhiku.store.maintenance import NOT_REPAIRABLE

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
    if not repair and any(not p.endswith(NOT_REPAIRABLE) for p in remaining):
        err.print(f"run `zhiku kb check {_quoted(name)} --repair` to fix what can be fixed", markup=False)
    raise typer.Exit(1)
