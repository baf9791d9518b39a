"""Every other path under Chatchat's prefixes answers JSON in Chatchat's envelope, never the web
UI's page or a text/plain 405: ``{"code": 404, "msg": "...", "data": null}`` (HTTP 404), so that a
Chatchat client calling a route zhiku does not have gets an error it can read. A path zhiku serves
asked with another method (a POST to a GET-only route, a GET to a POST-only one) is a 405 in the same
envelope (``code`` 405) with an ``Allow`` header naming the methods it takes.

The catch-all steps aside for any route that matches the request, wherever it was registered
(before or after it, e.g. the agent's ``/tools`` routes), and for mounts other than the web UI at
``/``: it answers only what nothing else would answer as the API. ``/mcp`` (the MCP server's
mount, added by ``zhiku start``) is not one of its prefixes.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.routing import Match, Mount, Route, compile_path
from starlette.types import Scope

from zhiku.api.errors import error_body

PREFIXES = ("/chat", "/knowledge_base", "/tools", "/server", "/other")
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_probing: ContextVar[bool] = ContextVar("chatchat_catch_all_probing", default=False)


class CatchAllRoute(Route):
    """Matches a path under :data:`PREFIXES` only when no other route or mount of the app does."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if _probing.get():  # asked while it asks the others (an included router holding it): not it
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match == Match.NONE:
            return match, child
        app = scope.get("app")
        router = getattr(app, "router", None) or scope.get("router")
        probe = {k: v for k, v in scope.items() if k != "fastapi"}
        token = _probing.set(True)
        try:
            for other in getattr(router, "routes", ()):
                if other is self or isinstance(other, CatchAllRoute):
                    continue
                if isinstance(other, Mount) and other.path in ("", "/"):  # the web UI takes what the API does not
                    continue
                if other.matches(probe)[0] != Match.NONE:
                    return Match.NONE, {}
        finally:
            _probing.reset(token)
        return match, child


router = APIRouter()


def _allowed(request: Request) -> list[str]:
    """The methods the app's routes take for the request's path (none: zhiku has no such path)."""
    table = getattr(request.app.state, "chatchat_method_table", None)
    if table is None:
        try:
            from fastapi.routing import iter_route_contexts
        except ImportError:  # pragma: no cover - FastAPI before 0.120 copied included routes into app.routes
            contexts: list[Any] = list(request.app.routes)
        else:
            contexts = list(iter_route_contexts(request.app.routes))
        table = []
        for route in contexts:
            path, methods = getattr(route, "path", None), getattr(route, "methods", None)
            if isinstance(getattr(route, "original_route", route), CatchAllRoute) or not path or not methods:
                continue
            table.append((compile_path(path)[0], frozenset(methods)))
        request.app.state.chatchat_method_table = table
    path = request.scope["path"]
    return sorted({m for regex, methods in table if regex.match(path) for m in methods})


async def _missing(request: Request) -> JSONResponse:
    """A Chatchat path zhiku does not serve: JSON 404 in Chatchat's envelope, zhiku's error beside;
    one it serves with other methods: 405, with ``Allow``."""
    allowed = _allowed(request)
    if allowed:
        message = f"method {request.method} is not allowed on {request.url.path} (it takes {', '.join(allowed)})"
        body405: dict[str, Any] = {"code": 405, "msg": message, "data": None,
                                   **error_body("method_not_allowed", message, {"allowed": allowed})}
        return JSONResponse(body405, status_code=405, headers={"Allow": ", ".join(allowed)})
    message = (f"zhiku does not provide {request.method} {request.url.path} (see docs/chatchat-compat.md "
               "for the Chatchat routes it serves)")
    body: dict[str, Any] = {"code": 404, "msg": message, "data": None,
                            **error_body("not_found", message, {"path": request.url.path})}
    return JSONResponse(body, status_code=404)


# plain routes (they read nothing, so they declare no scope); with authentication on, a request under these
# prefixes still needs a valid key first (401), as every API path does
PATHS = [p for prefix in PREFIXES for p in (prefix, prefix + "/{rest:path}")]
router.routes.extend(CatchAllRoute(path, _missing, methods=METHODS, include_in_schema=False) for path in PATHS)
