"""zhiku's built-in tools, registered under the ``tool`` kind of the plugin registry.

Each name maps to a tool factory (``ToolContext -> Tool | None``), imported on its first lookup.
None of them runs a shell command or evaluates code; see docs/agent.md for what each one does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zhiku.plugins import Registry

BUILTIN = {
    "kb_search": "zhiku.agent.tools.kb:kb_search",
    "web_search": "zhiku.agent.tools.web:web_search",
    "read_url": "zhiku.agent.tools.web:read_url",
    "calculator": "zhiku.agent.tools.calculator:calculator",
    "datetime": "zhiku.agent.tools.clock:datetime_tool",
    "unit_convert": "zhiku.agent.tools.units:unit_convert",
    "table_query": "zhiku.agent.tools.tables:table_query",
    "sql_query": "zhiku.agent.tools.tables:sql_query",
}


def register_backends(registry: "Registry") -> None:
    for name, factory in BUILTIN.items():
        registry.add("tool", name, factory)
