"""`zhiku search`, `zhiku ask`, `zhiku eval`."""

from __future__ import annotations

from typing import Any, List, Optional

import typer
from rich.markup import escape

from zhiku.cli import app, err, out, print_answer, print_json, state

MODE_HELP = "hybrid (default), dense or lexical"


def _split(args: list[str]) -> tuple[list[str], str]:
    if len(args) < 2:
        raise typer.BadParameter("give one or more knowledge bases, then the query")
    return args[:-1], args[-1]


def _where(hit: dict) -> str:
    bits = [hit["file"]]
    if hit.get("page"):
        end = hit.get("page_end")
        bits.append(f"pp.{hit['page']}-{end}" if isinstance(end, int) and end > hit["page"] else f"p.{hit['page']}")
    if hit.get("section"):
        bits.append(hit["section"])
    return " · ".join(bits)


@app.command("search")
def search(
    ctx: typer.Context,
    args: List[str] = typer.Argument(..., metavar="KB... QUERY", help="knowledge bases, then the query"),
    top_k: Optional[int] = typer.Option(None, "--top-k", "-k", min=1, help="hits to return"),
    mode: Optional[str] = typer.Option(None, "--mode", "-m", help=MODE_HELP),
    file: Optional[str] = typer.Option(None, "--file", help="only files matching this glob"),
    rerank: Optional[str] = typer.Option(None, "--rerank", help="reranker for this search: none, coverage, http, "
                                         "onnx (default: retrieval.rerank)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Search one or several knowledge bases."""
    kbs, query = _split(args)
    hits = state(ctx).backend().search(kbs, query, top_k=top_k, mode=mode, file_glob=file, rerank=rerank)
    if as_json:
        print_json([h.public() for h in hits])
        return
    if not hits:
        out.print("no hits")
    for i, h in enumerate(hits, 1):
        d = h.public()
        out.print(f"[bold]{i}.[/] [green]{h.score:.3f}[/] [cyan]{escape(h.kb)}[/] {escape(_where(d))}")
        text = h.text if len(h.text) <= 300 else h.text[:300] + "…"
        out.print("   " + escape(text.replace("\n", " ")))


@app.command("ask")
def ask(
    ctx: typer.Context,
    args: List[str] = typer.Argument(..., metavar="[KB...] QUESTION", help="knowledge bases, then the question; "
                                     "none (or '*'): every KB you may read, the question routed to those that fit it"),
    top_k: Optional[int] = typer.Option(None, "--top-k", "-k", min=1, help="passages to consider"),
    mode: Optional[str] = typer.Option(None, "--mode", "-m", help=MODE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    model: Optional[str] = typer.Option(None, "--model", help="chat model to answer with (see `zhiku models`)"),
    trace: bool = typer.Option(False, "--trace", help="agentic retrieval (the chat model searches the KBs as a "
                               "tool: rewrites, splits, searches again), and print each tool call before the answer"),
) -> None:
    """Answer a question from one or several knowledge bases, with citations. With no KB named, from
    the KBs that fit the question (named in the answer's first line)."""
    from zhiku.chat.pipeline import ALL_KBS, routed
    from zhiku.schema import AnswerRequest

    kbs, question = _split(args) if len(args) > 1 else ([ALL_KBS], args[0])
    request = AnswerRequest(mode="kb", kbs=kbs, question=question, model=model, top_k=top_k, retrieval=mode,
                            agentic=True if trace else None)
    backend = state(ctx).backend()
    if state(ctx).server is None:  # local: every KB of the home (a server routes over the caller's KBs)
        request = routed(request, lambda: [kb.name for kb in state(ctx).app().list_kbs()])
    answer = backend.answer(request)  # the default chat model's answer, or an extractive one
    if trace and not as_json:
        print_trace(answer.trace or [])
    print_answer(answer, lambda c: escape(_where(c.model_dump())), as_json)


def print_trace(steps: list[Any]) -> None:
    """The tool calls of an answer, one line each (tool, arguments, outcome, time)."""
    out.print(f"[dim]tool calls: {len(steps) or 'none'}[/]")
    for step in steps:
        style = "dim" if step.status == "ok" else "yellow"
        out.print(f"[{style}]{escape(step.shown)}[/]")
    out.print("")


@app.command("eval")
def evaluate(
    ctx: typer.Context,
    corpus: str = typer.Option(..., "--corpus", help="corpus.jsonl (id, title, text)"),
    queries: str = typer.Option(
        ..., "--queries", help="queries.jsonl (question, answers, gold_ids; or unanswerable: true)"),
    mode: str = typer.Option("hybrid", "--mode", "-m", help="hybrid, dense, lexical or all"),
    top_k: int = typer.Option(10, "--top-k", "-k", min=1, help="depth of the ranking measured"),
    embedder: Optional[str] = typer.Option(None, "--embedder", "-e", help="embedder of the throw-away KB"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N questions"),
    as_json: bool = typer.Option(False, "--json", help="print JSON (one object per mode)"),
) -> None:
    """Measure retrieval and answer quality on an evaluation set."""
    from zhiku.cli.progress import IngestBar
    from zhiku.evaluation import MODES_ALL, evaluate as run_eval

    modes = list(MODES_ALL) if mode == "all" else [mode]
    a = state(ctx).app()
    with IngestBar(err) as bar:
        results = run_eval(a, corpus, queries, modes=modes, top_k=top_k, embedder=embedder, limit=limit,
                           progress=bar)
    if as_json:
        print_json(results)
        return
    from rich.table import Table

    keys = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10", "answer_hit", "refused", "false_refusals",
            "p50_ms", "p95_ms"]
    table = Table("mode", *keys)
    for r in results:
        table.add_row(r["mode"], *("n/a" if r[k] is None else f"{r[k]:.3f}" if not k.endswith("_ms")
                                   else f"{r[k]:.1f}" for k in keys))
    out.print(table)
