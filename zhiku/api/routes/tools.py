"""The agent's tools over HTTP.

- ``GET /api/tools``: the tools the caller's agent answers may use (the enabled ones that work with
  the settings), each with its spec: name, description, JSON schema of its arguments, whether it only
  reads, its timeout. Read scope; ``kb_search`` names only the knowledge bases the caller may read.
- ``GET /api/tools/servers``: the configured MCP servers (``agent.mcp_servers``): transport, the
  command or URL (never its arguments, environment or headers), status (available, unavailable with
  the error, idle, disabled) and each server's tools with whether they run without approval.
  Read scope. MCP tools are in ``GET /api/tools`` too, with their ``server`` and ``status``.
- ``POST /api/tools/call``: run one tool by hand, as the agent would (the same checks: an unknown or
  disabled tool, bad arguments or a tool that acts on the world is refused, not run), within
  ``agent.tool_timeout_s``. Admins only: it reaches every knowledge base and the admin's databases.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from zhiku.api.deps import AdminUserDep, ReadableKBIds, ReadScope, ZhikuDep
from zhiku.api.errors import responses
from zhiku.app import Zhiku
from zhiku.schema import Hit, ToolStep, limits

router = APIRouter(prefix="/api/tools", tags=["agent tools"])


class ToolInfo(BaseModel):
    name: str
    description: str
    parameters: dict[str, Any] = Field(description="JSON schema of the arguments")
    read_only: bool = Field(description="false: acts on the world; the agent never runs it without approval")
    timeout_s: float
    server: str | None = Field(None, description="the MCP server the tool comes from (none: a built-in tool)")
    status: Literal["available", "unavailable"] = Field(
        "available", description="unavailable: its MCP server failed (GET /api/tools/servers says why)")


class McpServerInfo(BaseModel):
    name: str
    transport: Literal["stdio", "http"]
    target: str = Field(description="the command started (stdio) or the URL (http)")
    enabled: bool
    read_only: bool = Field(description="its tools are trusted to only read (no approval asked)")
    status: Literal["idle", "available", "unavailable", "disabled"]
    error: str | None = None
    tools: list[dict[str, Any]] = Field(default_factory=list,
                                        description="name, offered_as, description, read_only, enabled")


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=limits.NAME_MAX_CHARS)
    arguments: dict[str, Any] = Field(default_factory=dict, description="as the tool's parameters schema says "
                                      "(kb_search reads every KB unless its own kbs argument names some)")


class ToolOutcome(BaseModel):
    step: ToolStep = Field(description="how the call went: status ok, error, refused or timeout, and why")
    text: str | None = Field(None, description="what the tool gave back (what a model would read)")
    sources: list[Hit] = Field(default_factory=list, description="passages it found, citable")
    data: dict[str, Any] = Field(default_factory=dict, description="its structured result (a table's rows...)")


def readable_names(zhiku: Zhiku, readable: set[str] | None) -> list[str]:
    """Names of the knowledge bases with ids in ``readable`` (None: every one)."""
    return [kb.name for kb in zhiku.list_kbs() if readable is None or kb.id in readable]


@router.get("", responses=responses(422))
def list_tools(who: ReadScope, readable: ReadableKBIds, zhiku: ZhikuDep) -> list[ToolInfo]:
    """The tools an agent answer of the caller may use, with their specs (``agent.tools``)."""
    tools = zhiku.answers.agent_chat.available(who.user_id, readable_names(zhiku, readable))
    out = [ToolInfo(name=t.spec.name, description=t.spec.description, parameters=t.spec.parameters,
                    read_only=t.spec.read_only, timeout_s=t.spec.timeout_s, server=getattr(t, "server", None))
           for t in tools]
    listed = {t.name for t in out}
    for server in _mcp_states(zhiku, connect=False):
        for tool in server.tools:
            if tool["enabled"] and tool["offered_as"] not in listed:  # known from before its server failed
                out.append(ToolInfo(name=tool["offered_as"], description=tool["description"], parameters={},
                                    read_only=tool["read_only"], timeout_s=0, server=server.name,
                                    status="unavailable"))
    return out


@router.get("/servers", responses=responses(422))
def list_mcp_servers(who: ReadScope, zhiku: ZhikuDep) -> list[McpServerInfo]:
    """The configured MCP servers, each tried now when it is not connected (within its timeout)."""
    return [McpServerInfo.model_validate(vars(s)) for s in _mcp_states(zhiku, connect=True)]


def _mcp_states(zhiku: Zhiku, connect: bool) -> list[Any]:
    clients = zhiku.agent_services.get("mcp")
    return clients.states(connect) if clients is not None else []


@router.post("/call", responses=responses(400, 403, 422))
async def call_tool(body: ToolCall, who: AdminUserDep, zhiku: ZhikuDep) -> ToolOutcome:
    """Run one tool (admins): refused and failed calls come back as the step's status and error."""
    kbs = readable_names(zhiku, None)
    step, result = await run_in_threadpool(zhiku.answers.agent_chat.call, who.user_id, kbs, body.name,
                                           body.arguments)
    if result is None:
        return ToolOutcome(step=step)
    return ToolOutcome(step=step, text=result.text, sources=result.sources, data=result.data)
