"""The ``agent`` settings section: which tools the agent may use, their limits, and the SQL databases
an admin lets it query."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from zhiku.config.base import _Section

BUILTIN_TOOLS = ("kb_search", "web_search", "read_url", "calculator", "datetime", "unit_convert", "table_query",
                 "sql_query")


class DatabaseSettings(_Section):
    """A SQL database the agent may read (``sql_query``): only the tables listed, never a write."""

    url: str = Field(description="SQLAlchemy URL: sqlite:///path/to/file.db or postgresql+psycopg://user:pw@host/db; "
                     "give PostgreSQL a role that may only read the allowed tables")
    tables: list[str] = Field(min_length=1, description="the tables a query may read (bare or schema.table); "
                              "any other is refused")
    row_limit: int = Field(200, ge=1, le=10_000, description="rows one query gives back at most")
    timeout_s: float = Field(5.0, gt=0, le=300, description="seconds one query may run")
    description: str = Field("", description="what the database holds, told to the model")

    @field_validator("url")
    @classmethod
    def _dialect(cls, v: str) -> str:
        scheme = v.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in ("sqlite", "postgresql"):
            raise ValueError(f"only sqlite and postgresql databases are supported (got '{scheme}')")
        return v


class McpToolSettings(_Section):
    """An admin's override for one tool of an MCP server."""

    enabled: bool = Field(True, description="false: the agent is never offered this tool")
    read_only: bool | None = Field(None, description="trust this tool as read-only (true: runs without the user's "
                                   "approval) or not (false); unset: as the server's read_only")


class McpServerSettings(_Section):
    """An MCP server whose tools the agent may call: a command zhiku starts (stdio) or a URL (streamable HTTP)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,23}$",
                      description="short name (letters, digits, -); its tools are offered as <name>__<tool>")
    enabled: bool = Field(True, description="false: the server is not started and its tools are not offered")
    command: str | None = Field(None, description="stdio: the program to start (e.g. npx, uvx, python)")
    args: list[str] = Field(default_factory=list, description="stdio: the program's arguments")
    env: dict[str, str] = Field(default_factory=dict, description="stdio: environment variables for the program")
    url: str | None = Field(None, description="streamable HTTP: the server's URL (e.g. http://127.0.0.1:9000/mcp)")
    headers: dict[str, str] = Field(default_factory=dict, description="HTTP: headers sent with each request "
                                    "(e.g. Authorization)")
    timeout_s: float = Field(30.0, gt=0, le=600, description="seconds one call may take; beyond it the call fails "
                             "and the server is marked unavailable")
    start_timeout_s: float = Field(60.0, gt=0, le=600, description="seconds starting or connecting to the server "
                                   "and listing its tools may take")
    retry_s: float = Field(60.0, ge=0, le=86_400, description="seconds after a failure before the server is "
                           "tried again (0: at the next answer)")
    read_only: bool = Field(False, description="trust every tool of this server to only read: they then run "
                            "without the user's approval (default: each call needs it)")
    tools: dict[str, McpToolSettings] = Field(default_factory=dict,
                                              description="per-tool overrides by the server's tool name")

    @model_validator(mode="after")
    def _transport(self) -> "McpServerSettings":
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server '{self.name}' needs either command (stdio) or url (streamable HTTP)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"MCP server '{self.name}': url must start with http:// or https://")
        return self


class AgentSettings(_Section):
    tools: list[str] = Field(
        default_factory=lambda: list(BUILTIN_TOOLS),
        description="tools the agent may call (the built-in ones or a plugin's; the MCP servers' tools come from mcp_servers); "
        "tools that act on the world still need the user's approval for each call",
    )
    max_steps: int = Field(6, ge=1, le=50, description="tool calls one answer may make at most")
    tool_timeout_s: float = Field(20.0, gt=0, le=600, description="seconds one tool call may take")
    total_timeout_s: float = Field(120.0, gt=0, le=3600, description="seconds one agent answer may take, tools included")
    approval_timeout_s: float = Field(120.0, gt=0, le=3600, description="seconds the user has to approve a call "
                                      "of a tool that acts on the world (no answer: denied)")
    protocol: Literal["auto", "tools", "react"] = Field(
        "auto", description="how the model calls tools: auto (OpenAI tool calling where the model takes tools, the "
        "ReAct text protocol otherwise), tools, or react")
    table_row_limit: int = Field(200, ge=1, le=10_000, description="rows one table question's SQL gives back at most")
    table_timeout_s: float = Field(5.0, gt=0, le=300, description="seconds one table question's SQL may run")
    table_max_rows: int = Field(200_000, ge=1, le=5_000_000,
                                description="CSV/spreadsheet tables with more data rows are not loaded for SQL")
    read_url_chars: int = Field(8000, ge=500, le=200_000, description="characters of a page the URL reader gives the model")
    databases: dict[str, DatabaseSettings] = Field(
        default_factory=dict,
        description="SQL databases the sql_query tool may read, by name: {name: {url, tables, row_limit, timeout_s}}",
    )
    mcp_servers: list[McpServerSettings] = Field(
        default_factory=list,
        description="MCP servers whose tools the agent may call: [{name, command, args, env} or {name, url, "
        "headers}, with enabled, timeout_s, read_only and per-tool overrides]; a tool not trusted as read-only "
        "runs only after the user approves each call",
    )

    @field_validator("mcp_servers")
    @classmethod
    def _unique_servers(cls, v: list[McpServerSettings]) -> list[McpServerSettings]:
        names = [s.name for s in v]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"MCP server names must be unique: {', '.join(twice)}")
        return v
