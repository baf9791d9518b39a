"""The services the built-in tools are built on, as the ``ToolContext.services`` dict.

The composition root calls ``agent_services`` once (``Zhiku.agent_services``) and passes the same dict
to every answer's ``ToolContext``: the tables provider keeps its parsed files, the databases their
engines. Keys (``zhiku.agent.base.ToolContext`` lists them too):

``settings``    the ``Settings`` (the agent and websearch sections are read)
``kb``          ``name -> KnowledgeBase`` (the catalog's lookup; tools only pass it readable names)
``catalog``     the ``Catalog`` (a table row's chunk, for citing it)
``retriever``   the ``Retriever`` (kb_search)
``web_engine``  ``() -> SearchEngine`` (web_search; raises ``Unavailable`` when web search is off)
``fetcher``     the ``PageFetcher`` behind the SSRF guard (read_url)
``tables``      ``KBTables``: a KB's CSV/spreadsheet files as read-only SQL tables (table_query)
``databases``   ``Databases``: the admin's ``agent.databases`` (sql_query)
``mcp``         ``McpClients``: the admin's ``agent.mcp_servers``, connected on first use
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zhiku.agent.mcp_client import McpClients
from zhiku.agent.sql import Databases
from zhiku.agent.tables import KBTables
from zhiku.config import Settings
from zhiku.schema import KnowledgeBase


def agent_services(settings: Settings, catalog: Any, retriever: Any,
                   stored_path: Callable[[KnowledgeBase, str], Path],
                   web_engine: Callable[[], Any] | None = None, fetcher: Any = None) -> dict[str, Any]:
    """``stored_path(kb, file_id)``: where the Ingestor keeps a file's original (``Ingestor.stored_path``).
    ``web_engine`` and ``fetcher`` default to the configured engine and the guarded fetcher."""
    from zhiku.websearch import build_engine, build_fetcher

    return {
        "settings": settings,
        "kb": catalog.get_kb,
        "catalog": catalog,
        "retriever": retriever,
        "web_engine": web_engine or (lambda: build_engine(settings.websearch)),
        "fetcher": fetcher if fetcher is not None else build_fetcher(settings.websearch),
        "tables": KBTables(catalog, stored_path, settings.agent.table_max_rows),
        "databases": Databases(settings.agent.databases),
        "mcp": McpClients(settings.agent.mcp_servers),
    }


def close_services(services: dict[str, Any]) -> None:
    """Release what the services hold (the databases' connections, the loaded tables)."""
    databases = services.get("databases")
    if isinstance(databases, Databases):
        databases.close()
    clients = services.get("mcp")
    if isinstance(clients, McpClients):
        clients.close()
    tables = services.get("tables")
    if isinstance(tables, KBTables):
        tables.close()
