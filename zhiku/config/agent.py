"""The ``agent`` settings section: which tools the agent may use, their limits, and the SQL databases
an admin lets it query."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

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


class AgentSettings(_Section):
    tools: list[str] = Field(
        default_factory=lambda: list(BUILTIN_TOOLS),
        description="tools the agent may call (the built-in ones, a plugin's, or an MCP server's as server.tool); "
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
