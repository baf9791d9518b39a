"""The tools one answer may use: the enabled ones (``agent.tools``) that can work with the settings, and
the configured MCP servers' tools (``zhiku.agent.mcp_client``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from zhiku.agent.base import Tool, ToolContext, ToolFactory


log = logging.getLogger(__name__)


def build_tools(context: ToolContext, enabled: Sequence[str]) -> list[Tool]:
    """Each enabled tool made for ``context``, in the order of ``enabled``. A name the registry does not
    know is a ``ConfigError`` naming the choices; a factory returning ``None`` (the tool cannot work with
    the current settings, e.g. web search with no engine) leaves the tool out."""
    from zhiku.plugins import lookup

    tools: list[Tool] = []
    for name in dict.fromkeys(enabled):
        factory: ToolFactory = lookup("tool", name)
        tool = factory(context)
        if tool is None:
            log.debug("tool %s is not available with the current settings", name)
            continue
        tools.append(tool)
    return tools


def mcp_tools(context: ToolContext) -> list[Tool]:
    """The tools of the configured MCP servers that are available now (``services["mcp"]``, a
    ``McpClients``; none when the services have no MCP clients)."""
    clients = context.services.get("mcp")
    return list(clients.tools()) if clients is not None else []


def is_mcp_tool(settings: Any, name: str) -> bool:
    """Whether ``name`` is how a tool of an enabled configured MCP server is offered (``<server>__<tool>``)."""
    return any(s.enabled and name.startswith(f"{s.name}__") for s in settings.mcp_servers)
