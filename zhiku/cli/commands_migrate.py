"""`zhiku kb migrate NAME --to embedded|postgres|milvus [--embedder NEW]`: move a knowledge base's indexes
to another backend and/or re-embed it with another model while it keeps answering (zhiku.store.migrate)."""

from __future__ import annotations

import time
from typing import Any, Optional
from urllib.parse import quote

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from zhiku.cli import err, out, state
from zhiku.cli.commands_kb import kb_app


def _bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err, transient=False)


@kb_app.command("migrate")
def kb_migrate(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="KB", help="knowledge base"),
    to: Optional[str] = typer.Option(None, "--to", help="embedded, postgres or milvus (default: stay)"),
    embedder: Optional[str] = typer.Option(None, "--embedder", help="re-embed every chunk with this embedder"),
    batch: Optional[int] = typer.Option(None, "--batch", min=1, max=10000, hidden=True,
                                        help="chunks per saved step (a smaller one resumes more finely)"),
) -> None:
    """Build the KB's indexes on another backend (--to) and/or with another embedder (--embedder) while
    the current ones answer, switch at once, drop the old copy. Killed, it goes on where it stopped when
    run again."""
    st = state(ctx)
    if st.server is not None:
        return _remote(st, name, to, embedder)
    from zhiku.ingest.kb_migration import complete, prepare
    from zhiku.store import migrate as store_migrate

    if batch:
        store_migrate.BATCH = batch
    app = st.app()
    last = store_migrate.status(app.indexes, app.catalog.get_kb(name))
    kb, plan, model = prepare(app.catalog, app.indexes, app.embedders, name, to, embedder)
    if plan["resumed"] and last is not None:
        out.print(f"resuming the interrupted migration to {last['target']} with embedder "
                  f"{escape(last['embedder'])} ({last['done']} of {last['total']} chunks copied)")
    with _bar() as bar:
        task = bar.add_task("copying", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        started = time.monotonic()
        kb = complete(app.indexes, kb, plan, model, progress)
        bar.update(task, description="switched", completed=kb.chunks, total=kb.chunks)
    out.print(f"'{escape(kb.name)}' is on {kb.index_backend} with embedder {escape(kb.embedder)}: "
              f"{kb.chunks} chunks in {time.monotonic() - started:.1f} s", markup=True)


def _remote(st: Any, name: str, to: str | None, embedder: str | None) -> None:
    from zhiku.client.routes import Call

    client = st.backend().client
    path = f"/api/kbs/{quote(name, safe='')}/migrate"
    client._do(Call("POST", path, lambda x: x, json={"to": to, "embedder": embedder}))
    with _bar() as bar:
        task = bar.add_task("copying", total=None)
        while True:
            p = client._do(Call("GET", path, lambda x: x))
            bar.update(task, description=p["status"], completed=p["done"], total=p["total"] or None)
            if not p["running"]:
                break
            time.sleep(0.5)
    if p["status"] != "done":
        err.print(f"error: the migration of '{name}' stopped: {p.get('error') or p['status']}", markup=False)
        raise typer.Exit(1)
    out.print(f"'{escape(name)}' is on {p['backend']} with embedder {escape(p['current_embedder'])}")
