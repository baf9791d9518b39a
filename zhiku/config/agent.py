"""The ``agent`` settings section: which tools the agent may use, and its limits."""

from __future__ import annotations

from pydantic import Field

from zhiku.config.base import _Section

BUILTIN_TOOLS = ("kb_search", "web_search", "read_url", "calculator", "datetime", "unit_convert", "table_query")


class AgentSettings(_Section):
    tools: list[str] = Field(
        default_factory=lambda: list(BUILTIN_TOOLS),
        description="tools the agent may call (the built-in ones, a plugin's, or an MCP server's as server.tool); "
        "tools that act on the world still need the user's approval for each call",
    )
    max_steps: int = Field(6, ge=1, le=50, description="tool calls one answer may make at most")
    tool_timeout_s: float = Field(20.0, gt=0, le=600, description="seconds one tool call may take")
    total_timeout_s: float = Field(120.0, gt=0, le=3600, description="seconds one agent answer may take, tools included")
