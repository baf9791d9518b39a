"""A database that is down, or goes away mid-request, is a 503 with the reason, not a 500.

``DatabaseDownMiddleware`` wraps everything below the edge (the auth middleware reads API keys from
the database before any route runs): an error of the database connection — refused, closed by a
server that stopped, no free connection within ``database_timeout_s`` — is answered 503
``unavailable`` with what the driver said and ``Retry-After``. Nothing is kept from the failed
attempt: the connection pool checks connections before use (``pool_pre_ping``), so the first
request after the database is back is answered normally. A response already under way (a stream)
cannot change its status; it ends, and the error is logged.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zhiku.api.errors import error_body

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5


POOL_FULL = ("the database is busy: every connection this server process may open to it was in use for "
             "database_timeout_s (database_pool_size + database_pool_overflow on PostgreSQL)")


def database_unavailable(exc: BaseException) -> str | None:
    """What the client is told when ``exc`` says the database cannot be used now (down, or no free
    connection in time); None for other errors."""
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.TimeoutError):  # the pool's wait: the database itself may be fine
        return POOL_FULL
    reason = _unreachable(exc)
    return None if reason is None else f"the database is not reachable: {reason}"


def _unreachable(exc: BaseException) -> str | None:
    from sqlalchemy import exc as sa

    if not isinstance(exc, sa.DBAPIError):
        return None
    reason = " ".join(str(exc.orig or exc).split())[:300]
    if exc.connection_invalidated or isinstance(exc, sa.InterfaceError):
        return reason
    if isinstance(exc, sa.OperationalError):
        lowered = reason.lower()
        if "no such" in lowered or "syntax error" in lowered:  # SQLite's bugs are not an outage
            return None
        return reason
    return None


class DatabaseDownMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            message = database_unavailable(exc)
            if message is None or started:
                raise
            log.warning("%s %s: %s", scope.get("method"), scope.get("path"), message)
            response = JSONResponse(error_body("unavailable", message),
                                    status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Add the middleware (after the auth middleware, before the edge: it wraps the first, the edge wraps it)."""
    app.add_middleware(DatabaseDownMiddleware)
