"""One error shape for every response that is not a success::

    {"error": {"type": "not_found", "message": "knowledge base 'x' does not exist", "details": {...}}}

``type`` is the ``kind`` of the ``ZhikuError`` raised (the typed client rebuilds the same
exception from it); FastAPI's request validation, unknown routes and wrong methods are
turned into the same shape, and so is any unexpected error (500, details logged only).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from zhiku.errors import (
    Cancelled,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    LoadError,
    NotFound,
    Unauthorized,
    Unavailable,
    UnsupportedFormat,
    ZhikuError,
)

log = logging.getLogger(__name__)

# most specific first: the first class in an error's MRO found here gives its status
STATUS: dict[type[ZhikuError], int] = {
    ConfigError: 400,
    UnsupportedFormat: 400,
    InvalidInput: 400,
    LoadError: 422,
    NotFound: 404,
    Unauthorized: 401,
    Forbidden: 403,
    Conflict: 409,
    Cancelled: 409,
    Unavailable: 503,
    ZhikuError: 500,
}
# by kind, before the classes: errors whose HTTP meaning is narrower than their class's
KIND_STATUS = {"too_large": 413, "rate_limited": 429, "model_timeout": 504}
HTTP_TYPES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}


class ErrorInfo(BaseModel):
    type: str
    message: str
    details: dict[str, Any] = {}


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorInfo


def error_body(type_: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        plain = jsonable_encoder(details or {})
    except (TypeError, ValueError):
        plain = {k: str(v) for k, v in (details or {}).items()}
    return {"error": {"type": type_, "message": message, "details": plain}}


def status_of(exc: ZhikuError) -> int:
    if exc.kind in KIND_STATUS:
        return KIND_STATUS[exc.kind]
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _details(exc: ZhikuError) -> dict[str, Any]:
    # details are for machines: keep what is plain data (a Cancelled carries its report object)
    return {k: v for k, v in exc.details.items() if isinstance(v, (str, int, float, bool, list, dict, type(None)))}


async def _zhiku_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ZhikuError)
    status = status_of(exc)
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(error_body(exc.kind, exc.message, _details(exc)), status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                for e in exc.errors()]
    summary = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems[:5])
    return JSONResponse(error_body("validation_error", f"invalid request: {summary}", {"errors": problems}),
                        status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    type_ = HTTP_TYPES.get(status, "invalid_input" if status < 500 else "error")
    if status == 404 and exc.detail == "Not Found":
        message = f"no such route: {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return JSONResponse(error_body(type_, message), status_code=status, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return JSONResponse(error_body("internal_error", "internal server error: see the server log"), status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ZhikuError, _zhiku_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error statuses (all share ``ErrorBody``)."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS.get(s, "error")} for s in statuses}


_DESCRIPTIONS = {
    400: "invalid input", 401: "no valid API key (or a wrong password)",
    403: "not allowed: the API key's scopes or the user's role or access fall short", 404: "not found",
    409: "conflict (exists, busy or finished)", 413: "upload too large",
    429: "too many requests", 504: "a model did not answer in time",
    422: "request validation failed, or a file could not be read", 503: "unavailable",
}
