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


@mcp_app.command("servers")
def servers(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """The MCP servers the agent may call (agent.mcp_servers), each started or connected now (within its
    start_timeout_s), with its status and tools; tools marked * run only after the user approves each call."""
    from dataclasses import asdict

    from rich.markup import escape

    from zhiku.cli import out, print_json

    clients = state(ctx).app().agent_services["mcp"]
    found = clients.states(connect=True)
    if as_json:
        print_json([asdict(s) for s in found])
        return
    if not found:
        out.print("No MCP server is configured (agent.mcp_servers).")
        return
    for s in found:
        out.print(f"[bold]{escape(s.name)}[/bold] {s.transport} {escape(s.target)}: {s.status}"
                  + (f" — {escape(s.error)}" if s.error else ""))
        for t in s.tools:
            mark = "" if t["read_only"] else " *"
            off = " (off)" if not t["enabled"] else ""
            out.print(f"  {escape(t['offered_as'])}{mark}{off}  {escape(t['description'][:100])}")
