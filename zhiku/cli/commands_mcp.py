"""`zhiku mcp serve`: the knowledge bases as tools for an MCP client, over stdin/stdout."""

from __future__ import annotations

import typer

from zhiku.cli import app, state

mcp_app = typer.Typer(help="Serve the knowledge bases to MCP clients (IDE and desktop assistants).",
                      no_args_is_help=True)
app.add_typer(mcp_app, name="mcp")


@mcp_app.command("serve")
def serve(ctx: typer.Context) -> None:
    """Serve the MCP tools over stdin/stdout to the client that starts this command, as the local user.

    The running server (`zhiku start`) serves the same tools over HTTP at /mcp."""
    from zhiku.mcp.server import serve_stdio

    serve_stdio(state(ctx).app())  # stdout carries the protocol alone: nothing else is printed
