"""The MCP tools over streamable HTTP at ``/mcp`` of the running server (``zhiku start``).

``mount_mcp`` adds the route to the API's FastAPI app, so the app's middleware covers it: the
edge (``zhiku.api.edge``: a foreign Host header is 421, a cross-site browser POST is 403, a
program that sends no Origin passes) and then :class:`MCPDoor`, which authenticates like the API:
``Authorization: Bearer zk_...`` resolved through the app's ``AuthService``; while auth is on, no
valid key is 401 and a key without the read scope 403. The principal it resolved travels in the
request's scope to the tools (``zhiku.mcp.server``), which show that caller only the KBs they may
read. The transport is stateless (every POST carries its own key and gets its JSON answer), so
the server keeps no sessions.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from zhiku.api.errors import error_body
from zhiku.auth import LOCAL_USER, AuthService, Principal
from zhiku.mcp.server import build_server
from zhiku.schema.limits import JSON_BODY_MAX_BYTES

if TYPE_CHECKING:
    from fastapi import FastAPI

    from zhiku.app import Zhiku

PATH = "/mcp"
PRINCIPAL = "zhiku.mcp.principal"  # ASGI scope key: the caller MCPDoor resolved for this request


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if kind.lower() == "bearer" and token.strip() else None
    return None


class MCPDoor:
    """Lets a request through to the MCP transport only with a caller allowed to read (see the module)."""

    def __init__(self, app: ASGIApp, auth: AuthService) -> None:
        self.app, self.auth = app, auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        who = await self._caller(scope, receive, send)
        if who is not None:
            scope[PRINCIPAL] = who
            await self.app(scope, receive, send)

    async def _caller(self, scope: Scope, receive: Receive, send: Send) -> Principal | None:
        if not await run_in_threadpool(self.auth.enabled):
            return LOCAL_USER
        token = _bearer(scope)
        who = await run_in_threadpool(self.auth.resolve, token) if token else None
        if who is None:
            message = ("this API key is not valid (unknown, revoked or expired)" if token else
                       "authentication required: send 'Authorization: Bearer <API key>' (create a key with "
                       "`zhiku key create`)")
            await JSONResponse(error_body("unauthorized", message), status_code=401,
                               headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return None
        if "read" not in who.scopes:
            message = f"this API key lacks the 'read' scope (it has: {', '.join(sorted(who.scopes)) or 'none'})"
            await JSONResponse(error_body("forbidden", message, {"scope": "read"}),
                               status_code=403)(scope, receive, send)
            return None
        return who


def http_principal(ctx: Context) -> Principal:
    """The caller of a tool call over HTTP: what :class:`MCPDoor` put in that request's scope. A
    call that did not come through the door has no caller and is refused (never the local user)."""
    request = ctx.request_context.request
    who = getattr(request, "scope", {}).get(PRINCIPAL)
    if not isinstance(who, Principal):
        from mcp.server.mcpserver.exceptions import ToolError

        raise ToolError("this call carries no authenticated caller")
    return who


def mount_mcp(api: "FastAPI", zhiku: "Zhiku") -> None:
    """Serve the MCP tools at ``/mcp`` of ``api``. Call before the web UI's mount at ``/`` (which
    takes every path left)."""
    server = build_server(zhiku, http_principal)
    # the edge already checks Host and Origin for the whole app (with server.allowed_hosts/origins)
    server.streamable_http_app(stateless_http=True, json_response=True, max_request_body_size=JSON_BODY_MAX_BYTES,
                               transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    manager = server.session_manager
    api.router.routes.append(Route(PATH, endpoint=MCPDoor(StreamableHTTPASGIApp(manager), zhiku.auth),
                                   name="mcp"))
    api.router.lifespan_context = _with(api.router.lifespan_context, manager.run)


def _with(lifespan: Callable[[Any], Any], run: Callable[[], Any]) -> Callable[[Any], Any]:
    """``lifespan`` with ``run()`` (the MCP session manager's task group) entered inside it."""

    @asynccontextmanager
    async def both(app: Any) -> AsyncIterator[Any]:
        async with lifespan(app) as state, run():
            yield state

    return both
