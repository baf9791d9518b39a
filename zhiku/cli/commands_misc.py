"""`zhiku init`, `zhiku config ...`, `zhiku version`."""

from __future__ import annotations

import typer

from zhiku.cli import app, out, print_json, state

config_app = typer.Typer(help="Show the settings in force and their reference.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.command("init")
def init(ctx: typer.Context, force: bool = typer.Option(False, "--force", help="overwrite an existing file")) -> None:
    """Write a commented default settings file into the home folder."""
    from zhiku.config import CONFIG_NAME
    from zhiku.config_doc import default_yaml

    settings = state(ctx).settings()
    path = settings.home / CONFIG_NAME
    if path.exists() and not force:
        out.print(f"{path} already exists (use --force to overwrite)")
        raise typer.Exit(1)
    settings.home.mkdir(parents=True, exist_ok=True)
    path.write_text(default_yaml(), encoding="utf-8")
    out.print(f"wrote {path}")


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print the settings in force (file, environment and flags applied)."""
    import yaml

    data = state(ctx).settings().model_dump(mode="json")
    for emb in data.get("embedding", {}).get("models", {}).values():
        if emb.get("api_key"):
            emb["api_key"] = "***"
    typer.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False).rstrip())


@config_app.command("reference")
def config_reference() -> None:
    """Print the Markdown reference of every setting (as in the README)."""
    from zhiku.config_doc import reference_markdown

    typer.echo(reference_markdown().rstrip())


@app.command("formats")
def formats(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """The file types zhiku reads: each reader and its extensions."""
    from zhiku.ingest.loaders import registered

    kinds: dict[str, set[str]] = {}
    for spec in registered().values():  # the code-* readers (code-python, code-go...) as one line
        kinds.setdefault("code" if spec.name.startswith("code-") else spec.name, set()).update(spec.extensions)
    if as_json:
        print_json({k: sorted(v) for k, v in sorted(kinds.items())})
        return
    width = max(map(len, kinds))
    for kind, extensions in sorted(kinds.items()):
        out.print(f"{kind:>{width}}  {' '.join(sorted(extensions))}", markup=False)


@app.command("version")
def version() -> None:
    """Print zhiku's version."""
    from importlib.metadata import version as v

    typer.echo(v("zhiku"))


@app.command("demo")
def demo(ctx: typer.Context) -> None:
    """Build the demo knowledge base and answer two questions (what `make run` does)."""
    import tempfile
    from pathlib import Path

    from rich.markup import escape

    from zhiku.cli import err
    from zhiku.cli.progress import IngestBar
    from zhiku.demo import DEMO_KB, QUESTIONS, write_demo_documents
    from zhiku.errors import NotFound
    from zhiku.schema import AnswerRequest

    a = state(ctx).app()
    try:
        a.kb(DEMO_KB)
    except NotFound:
        a.create_kb(DEMO_KB, description="zhiku demo: a Chinese handbook, an English guide, a FAQ and release notes")
    with tempfile.TemporaryDirectory() as tmp:
        docs = write_demo_documents(Path(tmp) / "demo-docs")
        with IngestBar(err) as bar:
            a.add_files(DEMO_KB, [str(docs[0].parent)], progress=bar)
    for q in QUESTIONS:
        answer = a.answer(AnswerRequest(mode="kb", kbs=[DEMO_KB], question=q, extractive=True))
        out.print(f"\n[bold]Q: {escape(q)}[/]")
        out.print(escape(answer.answer))
        for c in answer.citations:
            out.print(f"  [{c.n}] {escape(c.file)}" + (f" · {escape(c.section)}" if c.section else ""), markup=False)
    me = _program()
    out.print(f"\nThe demo knowledge base lives in {a.settings.home}. Try:\n"
              f"  {me} ask {DEMO_KB} \"病假工资怎么算？\"\n"
              f"  {me} search {DEMO_KB} \"Jupiter storm\" --json\n"
              "`zhiku start` serves the web UI at / and the HTTP API (its docs at /docs) on one port.")


def _program() -> str:
    """How to type zhiku again: ``zhiku`` when that is what the shell finds, else the path it was
    started by (``.venv/bin/zhiku`` after `make run`, ``.venv\\Scripts\\zhiku.exe`` on Windows)."""
    import os
    import shutil
    import sys
    from pathlib import Path

    started = Path(sys.argv[0])
    found = shutil.which("zhiku")
    if not started.is_file() or started.suffix == ".py":  # python -m zhiku, or a test
        return "zhiku"
    if found is not None and Path(found).resolve() == started.resolve():
        return "zhiku"
    try:
        return os.path.relpath(started)
    except ValueError:  # another drive (Windows)
        return str(started)
