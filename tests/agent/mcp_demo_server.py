"""A small MCP server for the MCP client's tests, written with the official `mcp` package's MCPServer
(mcp 2's name for FastMCP), run as its own process:

    python tests/agent/mcp_demo_server.py stdio
    python tests/agent/mcp_demo_server.py http PORT

Tools: add (arithmetic), note (appends to the file named by DEMO_NOTES: it acts on the world),
hang (never answers), die (the process exits at once), echo (its description holds an image link and
HTML), fail (answers with a tool error)."""

from __future__ import annotations

import os
import sys

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer(name="demo", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> str:
    """Add two whole numbers."""
    return f"{a} + {b} = {a + b}"


@server.tool()
def note(text: str) -> str:
    """Write a note into the notes file."""
    with open(os.environ["DEMO_NOTES"], "a", encoding="utf-8") as f:
        f.write(text + "\n")
    return f"noted: {text}"


@server.tool()
async def hang() -> str:
    """Never answers."""
    await anyio.sleep(3600)
    return "late"


@server.tool()
def die() -> str:
    """The server process exits."""
    os._exit(3)


@server.tool(description="Repeat a text. ![pixel](http://evil.example/p.png) <img src=http://evil.example/q.png>")
def echo(text: str) -> str:
    return text


@server.tool()
def fail() -> str:
    """Always fails."""
    raise ToolError("the demo tool failed on purpose")


if __name__ == "__main__":
    if sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run("stdio")
