"""`zhiku models`, `zhiku model pull`, `zhiku model catalog`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable, Optional

import typer
from rich.markup import escape

from zhiku.cli import app, err, out, print_json, state

model_app = typer.Typer(help="Download and manage local chat models.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@app.command("models")
def models(
    ctx: typer.Context,
    no_check: bool = typer.Option(False, "--no-check", help="do not ask each server whether it answers"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List the chat models: configured, pulled and found running locally, with reachability."""
    infos = state(ctx).app().list_chat_models(check=not no_check)
    if as_json:
        print_json([asdict(i) for i in infos])
        return
    if not infos:
        out.print("no chat models: answers are extractive. Configure `llm.models`, run a local Ollama / "
                  "llama.cpp server, or `zhiku model pull qwen2.5-1.5b-instruct`.")
        return
    from rich.table import Table

    table = Table("name", "type", "where", "source", "status")
    for i in infos:
        name = f"{i.name} [bold](default)[/]" if i.default else i.name
        where = i.target + (f" · {i.model}" if i.model else "")
        status = "[dim]not checked[/]" if i.reachable is None else (
            "[green]ok[/]" if i.reachable else f"[red]{escape(i.reason or 'unreachable')}[/]")
        table.add_row(name, i.type, escape(where), i.source, status)
    out.print(table)


@model_app.command("catalog")
def catalog() -> None:
    """The curated small Chinese/English instruct models `zhiku model pull` knows by name."""
    from zhiku.llm.pull import CATALOG

    for name, e in CATALOG.items():
        out.print(f"[bold]{name}[/]  {escape(e.about)}  [dim]{e.repo}/{e.file}[/]")
    from zhiku.llm.pull_onnx import ONNX_CATALOG

    for name, o in ONNX_CATALOG.items():  # ONNX embedders and rerankers (docs/models.md)
        out.print(f"[bold]{name}[/]  ONNX {o.kind}: {escape(o.about)}  [dim]{o.repo}/{o.graph}[/]")


@model_app.command("pull")
def pull(
    ctx: typer.Context,
    what: str = typer.Argument(..., metavar="NAME|URL", help="a catalog name (see `zhiku model catalog`) or a GGUF URL"),
    mirror: Optional[str] = typer.Option(None, "--mirror", help="huggingface, modelscope, hf-mirror or a URL"),
    sha256: Optional[str] = typer.Option(None, "--sha256", help="expected sha256 of the file"),
    name: Optional[str] = typer.Option(None, "--name", help="register it under this name"),
) -> None:
    """Download a GGUF into HOME/models (resumable, sha256-checked) and register it."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=err, transient=True) as bar:
        task = bar.add_task(f"pulling {what.rsplit('/', 1)[-1]}", total=None)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        from zhiku.llm.pull_onnx import ONNX_CATALOG

        if what.lower() in ONNX_CATALOG:  # an ONNX embedder or reranker: several files into one folder
            if sha256 or name:
                raise typer.BadParameter("--sha256 and --name are for GGUF files; an ONNX model's files are "
                                         "checked against the catalog's or the hub's hashes")
            return _pull_onnx(ctx, what, mirror, progress)
        result = state(ctx).app().pull_model(what, mirror=mirror, sha256=sha256, name=name, progress=progress)
    resumed = f" (resumed at {result.resumed_from} bytes)" if result.resumed_from else ""
    check = "verified" if result.verified else "not verified (no sha256 known)"
    out.print(f"pulled {escape(result.name)} → {escape(str(result.path))}{resumed}")
    out.print(f"sha256 {result.sha256} ({check})")
    out.print(f"use it: zhiku ask KB \"question\" --model {escape(result.name)}")


def _pull_onnx(ctx: typer.Context, what: str, mirror: Optional[str], progress: "Callable[[int, int | None], None]") \
        -> None:
    from zhiku.llm.pull_onnx import pull_onnx

    result = pull_onnx(state(ctx).app().settings, what, mirror=mirror, progress=progress)
    fetched = ", ".join(result.fetched) or "nothing: every file was already whole"
    out.print(f"pulled ONNX {result.kind} {escape(result.name)} → {escape(str(result.path))} (fetched {escape(fetched)})")
    for file, digest in result.sha256.items():
        check = "verified" if result.verified.get(file) else "not verified (no sha256 known)"
        out.print(f"sha256 {digest}  {escape(file)} ({check})")
    out.print("use it: add to config.yaml\n" + escape(result.settings_hint()))
