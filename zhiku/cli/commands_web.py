"""`zhiku web search` (list the engine's results) and `zhiku web ask` (answer from web pages)."""

from __future__ import annotations

import typer
from rich.markup import escape

from zhiku.cli import app, err, out, print_answer, print_json, state

web_app = typer.Typer(help="Search the web with the configured engine and answer from its pages.",
                      no_args_is_help=True)
app.add_typer(web_app, name="web")

ENGINE_HELP = "engine to use instead of websearch.engine: searxng, duckduckgo, bing or tavily"


@web_app.command("search")
def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="what to search for"),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="results to list (default websearch.results)"),
    engine: str | None = typer.Option(None, "--engine", "-e", help=ENGINE_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List the search engine's results (no page is fetched)."""
    results = state(ctx).app().web_search(query, limit=limit, engine=engine)
    if as_json:
        print_json([r.model_dump() for r in results])
        return
    if not results:
        out.print("no results")
    for i, r in enumerate(results, 1):
        out.print(f"[bold]{i}.[/] {escape(r.title)}")
        out.print(f"   [cyan]{escape(r.url)}[/]")
        if r.snippet:
            snippet = r.snippet if len(r.snippet) <= 300 else r.snippet[:300] + "…"
            out.print("   " + escape(snippet))


@web_app.command("ask")
def ask(
    ctx: typer.Context,
    question: str = typer.Argument(..., help="the question"),
    model: str | None = typer.Option(None, "--model", help="chat model to answer with (see `zhiku models`)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Answer from web search results, citing the pages' URLs."""
    from zhiku.schema import AnswerRequest, WebSearchPart

    a = state(ctx).app()
    a.answers.web_chat.engine_or_off()  # "web search is off" when it is
    answer = a.answer(AnswerRequest(mode="search", question=question, model=model))
    web = answer.web or WebSearchPart()
    if as_json:  # the web part's fields at the top level, as they always were
        data = answer.model_dump(mode="json", exclude={"web"})
        data["citations"] = [{k: v for k, v in c.items() if k != "meta"} for c in data["citations"]]
        print_json({**data, **web.model_dump(mode="json")})
        return
    print_answer(answer, lambda c: f"{escape(c.file)} [cyan]{escape(c.url or '')}[/]")
    if web.unread and answer.found:
        for url, why in web.unread.items():
            err.print(f"not read: {url}: {why}", markup=False)
