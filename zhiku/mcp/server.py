"""The MCP tool set over a ``Zhiku`` app (the official ``mcp`` package's ``MCPServer``), and the
stdio transport of ``zhiku mcp serve``.

Who calls is asked of ``principal_of`` at every call, from the call's own context: over stdio
always the local user; over HTTP the principal the ``/mcp`` door (``zhiku.mcp.http``) resolved
from that very request's API key, so no session outlives its key or passes to another caller.

This module keeps its annotations evaluated (no ``from __future__ import annotations``): the
``mcp`` package reads the tools' signatures to build their JSON schemas and validate arguments.
"""

import logging
from typing import TYPE_CHECKING, Annotated, Any, Callable, Literal, Optional

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from zhiku.auth import LOCAL_USER, Principal
from zhiku.mcp.tools import CONTEXT_CHUNKS_MAX, TOP_K_MAX, KBTools, ToolOutput, ToolRefusal
from zhiku.schema import limits

if TYPE_CHECKING:
    from zhiku.app import Zhiku

log = logging.getLogger(__name__)

PrincipalOf = Callable[[Context], Principal]
INSTRUCTIONS = (
    "zhiku's knowledge bases (Chinese and English documents). Call list_knowledge_bases to see them, search to "
    "find passages (each with its file, page, KB and chunk id), read_chunk or read_page to read a cited passage "
    "in full, and ask for an answer with numbered citations [n].")
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

# the tools' arguments, with their limits in the JSON schema every client sees
Query = Annotated[str, Field(description="what to look for (Chinese or English)",
                             max_length=limits.QUESTION_MAX_CHARS)]
Question = Annotated[str, Field(description="the question (Chinese or English)", max_length=limits.QUESTION_MAX_CHARS)]
KBName = Annotated[str, Field(description="a knowledge base's name (list_knowledge_bases)",
                              min_length=1, max_length=limits.KB_NAME_MAX_CHARS)]
KBNames = Annotated[Optional[list[Annotated[str, Field(max_length=limits.KB_NAME_MAX_CHARS)]]],
                    Field(description="the knowledge bases to use (default: every one you may read)",
                          max_length=limits.KB_NAMES_MAX)]
TopK = Annotated[Optional[int], Field(description="how many passages (default: the server's retrieval.top_k)",
                                      ge=1, le=TOP_K_MAX)]
Mode = Annotated[Optional[Literal["hybrid", "dense", "lexical"]],
                 Field(description="retrieval: hybrid (default), dense (meaning) or lexical (words)")]
ChunkId = Annotated[int, Field(description="a chunk id, as a search result or citation gives it", ge=1,
                               le=limits.INT_MAX)]
ContextChunks = Annotated[int, Field(description="neighbouring chunks of the same file to add on each side",
                                     ge=0, le=CONTEXT_CHUNKS_MAX)]
FileName = Annotated[str, Field(description="the file's name, as a citation gives it", min_length=1,
                                max_length=limits.FILE_NAME_MAX_CHARS)]
Page = Annotated[int, Field(description="the page number (from 1)", ge=1, le=1_000_000)]


def local_user(_: Context) -> Principal:
    """The caller over stdio: the local user, as on the command line."""
    return LOCAL_USER


def build_server(zhiku: "Zhiku", principal_of: PrincipalOf = local_user) -> MCPServer:
    """The MCP server of ``zhiku``'s knowledge bases; ``principal_of`` says who makes each call."""
    server: MCPServer = MCPServer(name="zhiku", title="知库 zhiku knowledge bases", instructions=INSTRUCTIONS,
                                  version=_version(), log_level="WARNING")

    async def run(ctx: Context, call: Callable[[KBTools], ToolOutput]) -> CallToolResult:
        who = principal_of(ctx)
        try:
            output = await anyio.to_thread.run_sync(lambda: call(KBTools(zhiku, who)))
        except ToolRefusal as exc:
            raise ToolError(str(exc)) from None
        return CallToolResult(content=[TextContent(type="text", text=output.text)], structured_content=output.data)

    async def list_knowledge_bases(ctx: Context) -> CallToolResult:
        """The knowledge bases you may read, with their description and size."""
        return await run(ctx, lambda t: t.list_kbs())

    async def search(query: Query, ctx: Context, kbs: KBNames = None, top_k: TopK = None,
                     mode: Mode = None) -> CallToolResult:
        """Search knowledge bases; each result is a passage with its file, page, KB, chunk id and score
        (0-1, higher is better)."""
        return await run(ctx, lambda t: t.search(query, kbs, top_k, mode))

    async def ask(question: Question, ctx: Context, kbs: KBNames = None, top_k: TopK = None,
                  mode: Mode = None) -> CallToolResult:
        """Answer a question from knowledge bases, citing the passages used as [n] (file, page, KB, chunk id);
        says so when they hold no answer."""
        return await run(ctx, lambda t: t.ask(question, kbs, top_k, mode))

    async def read_chunk(kb: KBName, chunk_id: ChunkId, ctx: Context, context_chunks: ContextChunks = 0
                         ) -> CallToolResult:
        """Read one chunk (a cited passage) in full, optionally with its neighbours in the same file."""
        return await run(ctx, lambda t: t.read_chunk(kb, chunk_id, context_chunks))

    async def read_page(kb: KBName, file: FileName, page: Page, ctx: Context) -> CallToolResult:
        """Read the text of one page of a file (the page a citation names)."""
        return await run(ctx, lambda t: t.read_page(kb, file, page))

    tools: list[Callable[..., Any]] = [list_knowledge_bases, search, ask, read_chunk, read_page]
    for tool in tools:
        server.add_tool(tool, annotations=READ_ONLY)
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("zhiku")
    except PackageNotFoundError:
        return "0"


def serve_stdio(zhiku: "Zhiku") -> None:
    """Serve the tools over stdin/stdout until the client closes them (the caller: the local user)."""
    server = build_server(zhiku, local_user)
    anyio.run(server.run_stdio_async)
