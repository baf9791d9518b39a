"""`zhiku model add|remove|default|test`: OpenAI-compatible model servers in the settings, edited as
the web UI's settings page edits them (the settings file rewritten atomically, comments kept). With
``--server`` the running server changes (an admin key) and applies it at once; on a local home the
file changes and a running server sees it at its next start."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from zhiku.cli import err, out, state
from zhiku.cli.commands_llm import model_app
from zhiku.errors import InvalidInput


def _key(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    line = sys.stdin.readline().strip()
    if not line:
        raise InvalidInput("no API key on standard input (--api-key-stdin reads its first line)")
    return line


def _file(ctx: typer.Context) -> Path | None:
    config = state(ctx).config
    return Path(config) if config else None


def _client(ctx: typer.Context) -> Any:
    """The server's client with ``--server``, else None (the local home)."""
    s = state(ctx)
    if s.server is None:
        return None
    from zhiku.cli.remote import RemoteBackend

    backend = s.backend()
    assert isinstance(backend, RemoteBackend)
    return backend.client


@model_app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="the name conversations pick it by"),
    url: str = typer.Option(..., "--url", help="base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1"),
    model: str = typer.Option(..., "--model", help="the model name the server runs, e.g. qwen2.5:7b-instruct"),
    api_key_stdin: bool = typer.Option(False, "--api-key-stdin", help="read the server's API key from stdin"),
    make_default: bool = typer.Option(False, "--default", help="also make it the default chat model"),
    test: bool = typer.Option(True, "--test/--no-test", help="ask the server for its models first"),
) -> None:
    """Add (or change) an OpenAI-compatible chat model; a key given before is kept unless a new one is."""
    from zhiku.config import edits

    key = _key(api_key_stdin)
    client = _client(ctx)
    if test:
        served = (client.test_model_server(url, key, name) if client is not None
                  else edits.server_models(url, key or _stored_key(ctx, name)))
        if model not in served:
            err.print(f"warning: {escape(url)} does not list '{escape(model)}' (it serves: "
                      f"{escape(', '.join(served) or 'nothing')})")
    if client is not None:
        client.put_model_server(name, url, model, api_key=key)
        if make_default:
            client.set_defaults(default_model=name)
    else:
        zk = state(ctx).app()
        edits.put_model_server(zk.settings, name, url, model, api_key=key, file=_file(ctx))
        if make_default:
            edits.set_defaults(zk.settings, [i.name for i in zk.list_chat_models(False)], name, set_engine=False,
                               file=_file(ctx))
    out.print(f"added chat model {escape(name)} ({escape(model)} at {escape(url)})"
              + (", the default" if make_default else ""))


def _stored_key(ctx: typer.Context, name: str) -> str | None:
    cfg = state(ctx).settings().llm.models.get(name)
    return cfg.api_key if cfg is not None else None


@model_app.command("remove")
def remove(ctx: typer.Context, name: str = typer.Argument(..., help="a chat model of the settings")) -> None:
    """Remove a chat model from the settings (if it was the default, answers become extractive)."""
    from zhiku.config import edits

    client = _client(ctx)
    if client is not None:
        client.delete_model_server(name)
    else:
        edits.remove_model_server(state(ctx).app().settings, name, file=_file(ctx))
    out.print(f"removed chat model {escape(name)}")


@model_app.command("default")
def default(ctx: typer.Context,
            name: str = typer.Argument(..., help="a chat model (see `zhiku models`), or none for extractive answers"),
            ) -> None:
    """Choose the chat model new conversations use."""
    from zhiku.config import edits

    chosen: Optional[str] = None if name.lower() in ("none", "") else name
    client = _client(ctx)
    if client is not None:
        client.set_defaults(default_model=chosen)
    else:
        zk = state(ctx).app()
        edits.set_defaults(zk.settings, [i.name for i in zk.list_chat_models(False)], chosen, set_engine=False,
                           file=_file(ctx))
    out.print(f"default chat model: {escape(chosen)}" if chosen else "no default chat model: answers are extractive")


@model_app.command("test")
def test_server(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="base URL of an OpenAI-compatible server"),
    api_key_stdin: bool = typer.Option(False, "--api-key-stdin", help="read the server's API key from stdin"),
) -> None:
    """List the models an OpenAI-compatible server serves (does it answer, with this key?)."""
    from zhiku.config import edits

    key = _key(api_key_stdin)
    client = _client(ctx)
    served = client.test_model_server(url, key) if client is not None else edits.server_models(url, key)
    for m in served:
        out.print(escape(m))
    if not served:
        err.print(f"{escape(url)} answers but lists no models")


@model_app.command("detect")
def detect(
    ctx: typer.Context,
    add: bool = typer.Option(False, "--add", help="add what was found as model servers of the settings"),
    model: Optional[str] = typer.Option(None, "--model", help="with --add: only this model"),
    make_default: bool = typer.Option(False, "--default", help="with --add: make the first one added the default"),
) -> None:
    """Look for Ollama, llama.cpp server, vLLM, LM Studio and Xinference on this machine (127.0.0.1, the
    ports of llm.probe_ports) and list their models; --add adds them (named kind-model)."""
    from zhiku.llm import detect as local

    client = _client(ctx)
    if client is not None:
        found = client.detect_servers()
        servers = [(s.kind, s.label, s.port, s.base_url, s.models) for s in found.found]
        probed, problems = found.probed, found.problems
    else:
        result = local.detect_for(state(ctx).settings())
        servers = [(s.kind, s.label, s.port, s.base_url, s.models) for s in result.found]
        probed, problems = result.probed, result.problems
    for problem in problems:
        err.print(f"warning: {escape(problem)}")
    if not servers:
        looked = ", ".join(f"{k} :{p}" for k, p in probed.items()) or "nothing (llm.probe_ports is empty)"
        err.print(f"no model server found on this machine (looked at {escape(looked)})")
        raise typer.Exit(1)
    added: list[str] = []
    for kind, label, port, base_url, models in servers:
        out.print(f"{escape(label)} on port {port} ({escape(base_url)}): {escape(', '.join(models) or 'no models')}")
        if not add:
            continue
        for m in models:
            if model is not None and m != model:
                continue
            name = local.model_name(kind, m)
            first_default = make_default and not added
            if client is not None:
                client.add_detected(kind, m, name, make_default=first_default)
            else:
                _add_local(ctx, name, base_url, m, first_default)
            added.append(name)
            out.print(f"  added chat model {escape(name)}" + (", the default" if first_default else ""))
    if add and not added:
        err.print(f"no model '{escape(model or '')}' among those found; nothing added")
        raise typer.Exit(1)
    if not add:
        out.print("add them with `zhiku model detect --add` (or one: --add --model NAME)")


def _add_local(ctx: typer.Context, name: str, base_url: str, model: str, make_default: bool) -> None:
    from zhiku.config import edits

    zk = state(ctx).app()
    edits.put_model_server(zk.settings, name, base_url, model, file=_file(ctx))
    if make_default:
        edits.set_defaults(zk.settings, [i.name for i in zk.list_chat_models(False)], name, set_engine=False,
                           file=_file(ctx))


@model_app.command("embedder")
def embedder(ctx: typer.Context,
             name: str = typer.Argument(..., help="an embedder of the settings (see `zhiku config show`)")) -> None:
    """Choose the embedder NEW knowledge bases are built with (existing ones keep theirs; `zhiku kb migrate
    --embedder` rebuilds one with another)."""
    from zhiku.config import edits

    client = _client(ctx)
    if client is not None:
        client.set_defaults(default_embedder=name)
    else:
        edits.set_default_embedder(state(ctx).settings(), name, file=_file(ctx))
    out.print(f"new knowledge bases are built with {escape(name)}; existing ones keep their embedder")


@model_app.command("web-search")
def web_search(
    ctx: typer.Context,
    engine: str = typer.Argument(..., help="duckduckgo, searxng, bing, tavily, one a plugin adds, or none (off)"),
    url: Optional[str] = typer.Option(None, "--url", help="the engine's URL (searxng needs it)"),
) -> None:
    """Choose the engine of web-search chat (none turns web search off)."""
    from zhiku.config import edits

    client = _client(ctx)
    if client is not None:
        client.set_defaults(web_search_engine=engine, web_search_url=url or "")
    else:
        zk = state(ctx).app()
        edits.set_defaults(zk.settings, [], web_search_engine=engine, web_search_url=url or "", set_model=False,
                           file=_file(ctx))
    out.print("web search is off" if engine == "none" else f"web search uses {escape(engine)}"
              + (f" at {escape(url)}" if url else ""))
