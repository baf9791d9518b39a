"""Who is calling, and may they touch this knowledge base? The one place the API checks access.

- ``AuthMiddleware`` (installed by ``create_app``) turns ``Authorization: Bearer <key>`` into
  ``request.state.principal``. When auth is on (``zhiku.auth.AuthService.enabled``), a request for
  an API route (any route of the app's router, and anything under /api/ or /v1/) with no valid key
  gets 401 (one error shape, ``WWW-Authenticate: Bearer``) unless its path is public
  (``PUBLIC_PATHS``: health, version, the API docs, login). Mounted apps (the docs' assets, the web
  UI, which signs in through the API itself) are not API routes; included routers are, wherever
  they live (the Chatchat-compatible ``/knowledge_base/...``, ``/chat/...``). When auth is off every caller is
  the local single user (an admin).
- Every route that touches a knowledge base calls :func:`authorize_kbs` (or :func:`authorize_kb`)
  with the names it was given, before doing anything. A KB the caller cannot read answers 404
  like an unknown one (names do not leak); one they can read but not change answers 403, and so
  does a key whose scopes fall short (read for reading, write for changes, admin for managing
  users, keys and grants).
- Routes that touch no KB call :func:`require_scope`.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from zhiku.api.errors import error_body
from zhiku.auth import ANONYMOUS, LOCAL_USER, AuthService, Need, Principal

__all__ = ["LOCAL_USER", "Need", "PUBLIC_PATHS", "AuthMiddleware", "Principal", "authorize_kb", "authorize_kbs",
           "claim_kb", "install", "principal", "readable_kb_ids", "require_scope"]

log = logging.getLogger(__name__)

# answered without a key even when auth is on: exact paths, and prefixes ending with "/"
PUBLIC_PATHS = frozenset({
    "/api/health", "/api/version", "/api/auth/login", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
    "/", "/docs-assets/",
})

# guarded by prefix too, so that no router-matching detail of FastAPI can open them (Chatchat-compatible: the last two)
API_PREFIXES = ("/api/", "/v1/", "/knowledge_base/", "/chat/")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or any(p.endswith("/") and p != "/" and path.startswith(p) for p in PUBLIC_PATHS)


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if kind.lower() == "bearer" and token.strip() else None
    return None


class AuthMiddleware:
    """Resolves the caller of every HTTP request; refuses one with no valid key while auth is on."""

    def __init__(self, app: ASGIApp, auth: AuthService, router: APIRouter) -> None:
        self.app = app
        self.auth = auth
        self.router = router

    def _is_api(self, scope: Scope) -> bool:
        """Under /api/ or /v1/, or served by an API route of the app, included routers too. Mounted
        apps and plain Starlette routes (the web UI's own sign-in form posts) are not API routes."""
        if scope["path"].startswith(API_PREFIXES):
            return True
        probe = {k: v for k, v in scope.items() if k != "fastapi"}  # matching must leave the request as it was
        return any(r.matches(probe)[0] != Match.NONE for r in self.router.routes
                   if not isinstance(r, Mount) and (isinstance(r, APIRoute) or not isinstance(r, Route)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not await run_in_threadpool(self.auth.enabled):
            state["principal"] = LOCAL_USER
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        who = await run_in_threadpool(self.auth.resolve, token) if token else None
        if who is None and not is_public(scope["path"]) and self._is_api(scope):
            message = ("this API key is not valid (unknown, revoked or expired)" if token else
                       "authentication required: send 'Authorization: Bearer <API key>' "
                       "(create a key with `zhiku key create`, or log in at POST /api/auth/login)")
            response = JSONResponse(error_body("unauthorized", message), status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        state["principal"] = who or ANONYMOUS
        await self.app(scope, receive, send)


def _auth(request: Request) -> AuthService:
    return request.app.state.zhiku.auth


def principal(request: Request) -> Principal:
    """The caller of ``request`` (open server: the local user)."""
    return getattr(request.state, "principal", LOCAL_USER)


def require_scope(request: Request, scope: Need) -> Principal:
    """The caller, when their key has ``scope``; Forbidden otherwise."""
    who = principal(request)
    AuthService.require_scope(who, scope)
    return who


def authorize_kb(request: Request, kb: str, need: Need = "read") -> None:
    """Raise unless the caller may ``need`` the knowledge base ``kb``."""
    authorize_kbs(request, [kb], need)


def authorize_kbs(request: Request, kbs: Iterable[str], need: Need = "read") -> None:
    """Raise unless the caller may ``need`` every knowledge base in ``kbs`` (read: search and read;
    write: upload, edit, delete content; admin: rename or delete the KB, manage its grants)."""
    who = principal(request)
    if who is LOCAL_USER:
        return
    _auth(request).check(who, list(kbs), need)


def claim_kb(request: Request, kb: str) -> None:
    """Make the caller the owner of the knowledge base they just created (every route that creates
    one calls this; on an open server, or for the local user, there is nobody to record)."""
    who = principal(request)
    if who is not LOCAL_USER and who.user_id:
        _auth(request).set_owner(kb, who.user_id)


def readable_kb_ids(request: Request) -> set[str] | None:
    """Ids of the KBs the caller may read (for listings); None means every KB."""
    who = require_scope(request, "read")
    if who is LOCAL_USER:
        return None
    return _auth(request).readable_kb_ids(who)


def install(app: FastAPI, auth: AuthService) -> None:
    """Check the caller of every request, and tell the OpenAPI schema (and the docs' Authorize
    button) that routes take a bearer API key."""
    app.add_middleware(AuthMiddleware, auth=auth, router=app.router)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["apiKey"] = {
                "type": "http", "scheme": "bearer",
                "description": "an API key (`zhiku key create`) or the token of POST /api/auth/login"}
            schema["security"] = [{"apiKey": []}]
            for path, operations in schema.get("paths", {}).items():
                for op in operations.values():
                    if is_public(path):
                        op["security"] = []  # answered without a key
                    else:
                        op.setdefault("responses", {}).setdefault("401", {
                            "description": "no valid API key (auth is on)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
