"""MCP client: the tools of the MCP servers an admin configured (``agent.mcp_servers``) as agent tools.

Each server is one ``McpConnection``: a session of the official ``mcp`` client (``mcp.Client``), over
stdio (zhiku starts the command) or streamable HTTP (a URL), held open in the connection's own
event-loop thread and reached from the agent's tool threads through an anyio blocking portal. It is
opened on first use (an answer's tool list, ``GET /api/tools``) and lists the server's tools once.

Failures are typed and bounded: starting (or connecting) and listing take at most the server's
``start_timeout_s``, each call its ``timeout_s``. A server that cannot be started, dies (its
connection closes) or hangs (a call runs out of time) raises ``McpServerError`` (``McpTimeout`` for
a hang) — the loop shows it to the model as the call's result, so the agent answers without it — and
the server is marked ``unavailable``: its tools are not offered to later answers (listed as
unavailable) until ``retry_s`` has passed and a new connection works. A tool's own error (``is_error``) is a ``ToolError`` and leaves the server up.

Trust is the admin's, never the server's: a tool runs without the user's approval only when the
server is configured ``read_only`` (or the tool's override says so); the server's own
``readOnlyHint`` annotations are ignored. Arguments are checked against the tool's input schema by
the loop before they reach the server.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

from zhiku.agent.base import ToolContext, ToolError, ToolResult, ToolSpec
from zhiku.config.agent import McpServerSettings

log = logging.getLogger(__name__)

Status = Literal["idle", "available", "unavailable", "disabled"]
WATCH_S = 0.1  # how often a running call looks whether its answer was stopped
CLOSE_WAIT_S = 5.0  # how long closing waits for a server's session to end
CONNECTION_CLOSED = -32000  # the JSON-RPC error the mcp client gives pending requests when the connection ends
SEP = "__"  # an MCP tool is offered as <server>__<tool> (OpenAI tool names allow no dot)


class McpServerError(ToolError):
    """An MCP server could not be reached, closed its connection, or refused the request; its tools
    are unavailable until it is tried again."""

    kind = "mcp_server_error"


class McpTimeout(McpServerError):
    """An MCP server did not answer within its ``timeout_s`` (it hangs); its tools are unavailable until
    it is tried again."""

    kind = "mcp_timeout"


@dataclass(frozen=True)
class McpToolInfo:
    name: str  # the server's name for it
    description: str
    input_schema: dict[str, Any]


@dataclass
class ServerState:
    """What ``GET /api/tools/servers`` and the settings page show of one server."""

    name: str
    transport: Literal["stdio", "http"]
    target: str  # the command (without its arguments) or the URL (headers and env are never shown)
    enabled: bool
    read_only: bool
    status: Status
    error: str | None
    tools: list[dict[str, Any]] = field(default_factory=list)  # name, offered_as, description, read_only, enabled


def tool_name(server: str, tool: str) -> str:
    return f"{server}{SEP}{tool}"[:64]


class _Session:
    """One connection's session: its event-loop thread (``portal``), the ``mcp.Client`` once open, and how
    it ended. A new connection gets a new session, so a late end of the old one changes nothing."""

    def __init__(self) -> None:
        self.portal: Any = None
        self.client: Any = None
        self.closing: Any = None  # an anyio.Event, set to end the session
        self.opened = threading.Event()
        self.error: BaseException | None = None
        self.ended = False


class McpConnection:
    """One configured server, connected on demand; safe to use from several threads."""

    def __init__(self, config: McpServerSettings) -> None:
        self.config = config
        self.status: Status = "idle" if config.enabled else "disabled"
        self.error: str | None = None
        self.tools: list[McpToolInfo] = []  # as last listed (kept while the server is unavailable)
        self._lock = threading.Lock()
        self._failed_at = 0.0
        self._session: _Session | None = None

    # -- connecting ------------------------------------------------------------------------------
    def ensure(self) -> bool:
        """Connected and its tools listed (connecting now when needed, within ``start_timeout_s``)? False when
        disabled, failed within the last ``retry_s``, or failing now (``status``/``error`` say why)."""
        if not self.config.enabled:
            return False
        with self._lock:
            session = self._session
            if self.status == "available" and session is not None and session.client is not None:
                return True
            if self.status == "unavailable" and time.monotonic() - self._failed_at < self.config.retry_s:
                return False
            try:
                self._connect()
            except McpServerError as exc:
                self._fail(self._session, exc.message)
                return False
            return True

    def _connect(self) -> None:
        import anyio
        from anyio.from_thread import BlockingPortal

        self._shutdown()
        session = self._session = _Session()
        started = threading.Event()

        async def main() -> None:
            async with BlockingPortal() as portal:
                session.portal = portal
                started.set()
                await portal.sleep_until_stopped()

        threading.Thread(target=lambda: anyio.run(main), name=f"zhiku-mcp-{self.config.name}", daemon=True).start()
        started.wait()
        session.portal.start_task_soon(self._hold, session)
        timeout = self.config.start_timeout_s
        if not session.opened.wait(timeout):
            raise McpTimeout(f"MCP server '{self.config.name}' did not start within {timeout:g} s")
        if session.client is None:
            raise McpServerError(f"MCP server '{self.config.name}' could not be started: {_reason(session.error)}")
        listed = self._run(session, self._list_tools, timeout=timeout)
        self.tools = [McpToolInfo(t.name, t.description or t.title or t.name, dict(t.input_schema or {}))
                      for t in listed]
        self.status, self.error = "available", None

    async def _hold(self, session: _Session) -> None:
        """The session's task: opens it, keeps it until ``closing``, notices when it ends by itself."""
        import anyio

        session.closing = closing = anyio.Event()
        try:
            async with AsyncExitStack() as stack:
                session.client = await stack.enter_async_context(await self._make_client(stack))
                session.opened.set()
                await closing.wait()
        except Exception as exc:  # the server died, refused the handshake, or could not be started
            session.error = exc
        finally:
            session.client, session.ended = None, True
            session.opened.set()
            if not closing.is_set():
                self._fail(session, f"the connection closed ({_reason(session.error)})")

    async def _make_client(self, stack: AsyncExitStack) -> Any:
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client

        c = self.config
        if c.command is not None:
            params = StdioServerParameters(command=c.command, args=list(c.args), env=dict(c.env) or None)
            return Client(stdio_client(params, errlog=_errlog()), read_timeout_seconds=c.start_timeout_s)
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = await stack.enter_async_context(httpx2.AsyncClient(headers=dict(c.headers), timeout=c.start_timeout_s))
        return Client(streamable_http_client(c.url or "", http_client=http), read_timeout_seconds=c.start_timeout_s)

    @staticmethod
    async def _list_tools(client: Any) -> list[Any]:
        tools: list[Any] = []
        cursor = None
        for _ in range(20):  # a server that pages forever cannot hang the listing
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    # -- calling -----------------------------------------------------------------------------------
    def call(self, tool: str, arguments: dict[str, Any], cancelled: Callable[[], bool] = lambda: False,
             timeout: float | None = None) -> Any:
        """Call one of the server's tools within ``timeout`` (at most ``timeout_s``); its ``CallToolResult``.
        ``McpTimeout`` / ``McpServerError`` (the server is then marked unavailable) or ``ToolError`` (the
        server refused this call)."""
        if not self.ensure() or self._session is None:
            raise McpServerError(f"MCP server '{self.config.name}' is unavailable: {self.error}")
        limit = min(self.config.timeout_s, timeout) if timeout else None
        return self._run(self._session, self._call, tool, arguments, cancelled, timeout=limit)

    @staticmethod
    async def _call(client: Any, tool: str, arguments: dict[str, Any], cancelled: Callable[[], bool]) -> Any:
        import anyio

        box: dict[str, Any] = {}
        async with anyio.create_task_group() as group:
            async def watch() -> None:
                while not cancelled():
                    await anyio.sleep(WATCH_S)
                group.cancel_scope.cancel()

            group.start_soon(watch)
            box["result"] = await client.call_tool(tool, arguments)
            group.cancel_scope.cancel()
        if "result" not in box:
            raise ToolError("the call was stopped")
        return box["result"]

    def _run(self, session: _Session, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run ``fn(client, *args)`` in the session's loop within ``timeout`` (``timeout_s``); failures as
        typed errors."""
        import anyio
        from mcp.shared.exceptions import MCPError

        name, timeout = self.config.name, timeout or self.config.timeout_s

        async def bounded() -> Any:
            client = session.client
            if client is None:
                raise McpServerError(f"MCP server '{name}' is not connected ({_reason(session.error)})")
            with anyio.fail_after(timeout):
                return await fn(client, *args)

        try:
            return session.portal.call(bounded)
        except TimeoutError:
            error: McpServerError = McpTimeout(f"MCP server '{name}' did not answer within {timeout:g} s")
        except McpServerError as exc:
            error = exc
        except ToolError:
            raise
        except MCPError as exc:  # the server answered with an error: it is alive
            if session.ended or exc.error.code == CONNECTION_CLOSED:
                error = McpServerError(f"MCP server '{name}' failed: {exc.error.message}")
            else:
                raise ToolError(f"MCP server '{name}' refused the request: {exc.error.message}") from None
        except Exception as exc:  # the connection broke (the process died, the URL went away)
            error = McpServerError(f"MCP server '{name}' failed: {_reason(exc)}")
        self._fail(session, error.message)
        raise error

    # -- state ------------------------------------------------------------------------------------
    def _fail(self, session: _Session | None, reason: str) -> None:
        """Mark the server unavailable, when ``session`` is still its current one, and end that session."""
        if session is not self._session:
            return
        if self.status != "unavailable":
            log.warning("MCP server %s is unavailable: %s", self.config.name, reason)
        self.status, self.error, self._failed_at = "unavailable", reason, time.monotonic()
        self._shutdown()

    def _shutdown(self, wait: bool = False) -> None:
        """End the current session and its thread, in the background (a hung server's process is stopped
        by the transport's own cleanup); ``wait``: up to ``CLOSE_WAIT_S`` for it."""
        session, self._session = self._session, None
        if session is None or session.portal is None:
            return
        portal, closing = session.portal, session.closing

        def stop() -> None:
            try:
                if closing is not None:
                    portal.call(closing.set)
                portal.call(portal.stop, True)
            except Exception:  # already stopped
                pass

        worker = threading.Thread(target=stop, name=f"zhiku-mcp-close-{self.config.name}", daemon=True)
        worker.start()
        if wait:
            worker.join(CLOSE_WAIT_S)

    def close(self) -> None:
        with self._lock:
            self._shutdown(wait=True)

    def read_only(self, tool: str) -> bool:
        override = self.config.tools.get(tool)
        if override is not None and override.read_only is not None:
            return override.read_only
        return self.config.read_only

    def offered(self, tool: str) -> bool:
        override = self.config.tools.get(tool)
        return override is None or override.enabled

    def state(self) -> ServerState:
        c = self.config
        return ServerState(
            name=c.name, transport="stdio" if c.command is not None else "http",
            target=c.command if c.command is not None else (c.url or "").split("?", 1)[0],
            enabled=c.enabled, read_only=c.read_only, status=self.status, error=self.error,
            tools=[{"name": t.name, "offered_as": tool_name(c.name, t.name), "description": t.description,
                    "read_only": self.read_only(t.name), "enabled": self.offered(t.name)} for t in self.tools])


class McpTool:
    """One tool of an MCP server, as an agent tool (``<server>__<tool>``)."""

    def __init__(self, connection: McpConnection, info: McpToolInfo) -> None:
        self.connection, self.info = connection, info
        self.server = connection.config.name
        schema = info.input_schema if info.input_schema.get("type") == "object" else {"type": "object"}
        self.spec = ToolSpec(
            name=tool_name(self.server, info.name),
            description=f"(MCP server {self.server}) {info.description}"[:1024],
            parameters={"properties": {}, **schema},
            read_only=connection.read_only(info.name),
            timeout_s=connection.config.timeout_s + 5,  # the connection's own timeout ends it first, typed
        )

    def run(self, arguments: dict[str, Any], context: ToolContext) -> ToolResult:
        settings = context.services.get("settings")
        # within the agent's own limit for one call, so that a hang ends here, typed, and marks the server
        limit = max(0.5, settings.agent.tool_timeout_s - 0.5) if settings is not None else None
        result = self.connection.call(self.info.name, arguments, context.cancelled, limit)
        texts = []
        for part in result.content or []:
            text = getattr(part, "text", None)
            texts.append(text if isinstance(text, str) else f"[{getattr(part, 'type', 'content')} not shown]")
        text = "\n".join(texts).strip()
        if result.is_error:
            raise ToolError(f"{self.spec.name} failed: {text or 'no reason given'}")
        data = result.structured_content if isinstance(result.structured_content, dict) else {}
        first = text.splitlines()[0] if text else ""
        return ToolResult(text=text or "(no result)", summary=f"{self.server}: {first[:120]}",
                          data={"server": self.server, "tool": self.info.name, **({"result": data} if data else {})})


class McpClients:
    """Every configured server (``agent.mcp_servers``), for the whole app (``services["mcp"]``)."""

    def __init__(self, servers: Sequence[McpServerSettings]) -> None:
        self.connections = {s.name: McpConnection(s) for s in servers}

    def tools(self) -> list[McpTool]:
        """The tools of every enabled server that is available now (connecting where needed)."""
        out: list[McpTool] = []
        for connection in self.connections.values():
            if connection.ensure():
                out.extend(McpTool(connection, t) for t in connection.tools if connection.offered(t.name))
        return out

    def states(self, connect: bool = True) -> list[ServerState]:
        if connect:
            for connection in self.connections.values():
                connection.ensure()
        return [c.state() for c in self.connections.values()]

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()


def _errlog() -> Any:
    """Where a stdio server's stderr goes: zhiku's own stderr when it is a real file (it may be replaced
    by something without a file descriptor, e.g. when captured), the process's original one otherwise."""
    for stream in (sys.stderr, sys.__stderr__):
        try:
            if stream is not None:
                stream.fileno()
                return stream
        except (AttributeError, OSError, ValueError):
            continue
    return open(os.devnull, "w")  # noqa: SIM115 - kept open for the server's lifetime


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "no reason given"
    inner = getattr(exc, "exceptions", None)
    if inner:  # a task group's error: the first one says it
        return _reason(inner[0])
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"
