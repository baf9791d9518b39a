"""What a tool is: the one protocol the agent loop, the API's tool routes and MCP speak.

A tool is registered in the plugin registry under the ``tool`` kind as a *tool factory*: a callable
taking the ``ToolContext`` of one answer and returning a ``Tool`` (or ``None`` when the tool cannot
work with the current settings, e.g. web search with no engine). The loop offers the model every
enabled tool's ``spec``; a call runs ``Tool.run`` with the model's arguments (already checked
against ``spec.parameters`` by the loop) and gives back a ``ToolResult``.

Safety is part of the protocol, not of each caller:

- ``ToolSpec.read_only``: the tool reads and computes only. A tool that acts on the world
  (``read_only=False``, e.g. an MCP server's tool not marked read-only) runs only after the user
  approved that call.
- Tools see the world through ``ToolContext``: KB search is limited to ``context.readable_kbs``,
  URLs go through the SSRF guard, and nothing runs shell commands or evaluates code.
- A tool raises ``ToolError`` (a readable reason the model sees as the result) for bad arguments or
  a failed call; any other exception is reported the same way by the loop and never ends the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from zhiku.errors import ZhikuError
from zhiku.schema import Hit


class ToolError(ZhikuError):
    """A tool could not do what it was asked (bad arguments, a refused query, a failed fetch): the
    reason is shown to the model (and in the trace) as the tool's result."""


@dataclass(frozen=True)
class ToolSpec:
    """What the model is told about a tool (OpenAI's function-tool shape: name, description, JSON schema)."""

    name: str  # [a-zA-Z0-9_-]{1,64}, unique among the enabled tools
    description: str
    parameters: dict[str, Any]  # a JSON schema object
    read_only: bool = True  # False: acts on the world; runs only after the user approves the call
    timeout_s: float = 20.0  # the loop stops waiting after this long and reports a timeout

    def openai(self) -> dict[str, Any]:
        """As an entry of OpenAI's ``tools`` list."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


@dataclass
class ToolResult:
    """What a call gave back: ``text`` goes to the model; ``sources`` are passages the answer may cite
    (KB hits, web passages, table rows as hits); ``summary`` is the trace's one line; ``data`` is the
    structured result for the API (a table's rows and query, a calculation's value)."""

    text: str
    sources: list[Hit] = field(default_factory=list)
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolContext:
    """What one answer's tools may reach: only the knowledge bases its caller may read, the answer's
    cancellation, and the services tools are built on (given by the composition root, typed loosely
    here so this module stays below them)."""

    owner: str  # the user the answer is for ("local" without accounts)
    readable_kbs: Sequence[str]  # KB names the caller may read; KB tools never look beyond them
    cancelled: Callable[[], bool] = lambda: False
    # what the built-in tools use (zhiku.agent.services.agent_services builds it; Zhiku.agent_services):
    # "settings", "kb" (name -> KnowledgeBase), "catalog", "retriever", "web_engine" (() -> SearchEngine),
    # "fetcher" (the SSRF-guarded PageFetcher), "tables" (KBTables), "databases" (Databases)
    services: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Tool(Protocol):
    spec: ToolSpec

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        """Do the call; ``ToolError`` with a readable reason when it cannot."""
        ...


ToolFactory = Callable[[ToolContext], "Tool | None"]
