"""The HTTP edge: what every request must look like before a route (or the web UI) sees it.

``EdgeMiddleware`` is the outermost layer of the app. In order:

1. **Host.** On a server listening on loopback, a ``Host`` header that is not a loopback name
   (``localhost``, ``127.0.0.1``, ``[::1]``, any port) or on ``server.allowed_hosts`` is answered
   421: a page on another site that re-points its own DNS name at 127.0.0.1 (DNS rebinding) reaches
   nothing. With ``server.allowed_hosts`` set (a proxy in front), the list is enforced on any address.
2. **Origin.** A request that changes something (POST, PUT, PATCH, DELETE, and the web UI's
   websocket) sent by a browser from another site is answered 403: its ``Origin`` (or, without one,
   its ``Referer``) must be this server's own (the host it was asked for) or on
   ``server.allowed_origins``; with neither header, ``Sec-Fetch-Site: cross-site``/``same-site``
   is refused too. Programs (the client, the openai SDK, curl, Chatchat's ``requests``) send no
   Origin and pass.
3. **JSON bodies.** A route that takes a JSON body gets one: another content type is 415 (a
   browser posts ``text/plain`` across sites without asking), a body over
   ``zhiku.schema.limits.JSON_BODY_MAX_BYTES`` is 413 before it is read, and a body carrying a lone
   surrogate (``"\\ud800"``, which no UTF-8 text can hold) or an integer outside 64 bits is 400.
   Integer query and path parameters are range-checked the same way.

Refusals use the one error shape (Chatchat's envelope on its routes). ``checked_base_url`` is the
base URL of links the server builds: the request's own only when its Host was checked.
"""

from __future__ import annotations

import ipaddress
import json
import re
import types
import typing
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI, params
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as ASGIScope

from zhiku.api.errors import error_body
from zhiku.schema.limits import INT_MAX, INT_MIN, JSON_BODY_MAX_BYTES

__all__ = ["EdgeMiddleware", "checked_base_url", "install"]

CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "127.0.0.1", "::1"})
_DEFAULT_PORT = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
TRUSTED_HOST = "zhiku.trusted_host"  # scope key: the Host header was checked against the allow-list


class Refusal(Exception):
    def __init__(self, status: int, type_: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.details = status, type_, message, details


def _split_host(value: str) -> tuple[str, int | None]:
    """``host[:port]`` (``[v6]:port`` too) as (lower-case host without brackets, port or None)."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, ""
    if port and not port.isdigit():
        raise ValueError(value)
    return host, int(port) if port else None


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin or URL; None for ``null`` or anything unparsable."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not host or scheme not in _DEFAULT_PORT:
        return None
    return scheme, host.lower(), port or _DEFAULT_PORT[scheme]


def _headers(scope: ASGIScope) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


class EdgeMiddleware:
    """See the module docstring. ``allowed_hosts``: host names (``kb.example.com`` any port,
    ``kb.example.com:8443`` that port); ``allowed_origins``: ``scheme://host[:port]``."""

    def __init__(self, app: ASGIApp, router: Any, allowed_hosts: Iterable[str] = (),
                 allowed_origins: Iterable[str] = ()) -> None:
        self.app, self.router = app, router
        self.allowed_hosts = [_split_host(h) for h in allowed_hosts]
        self.allowed_origins = {o for o in (_origin(x) for x in allowed_origins) if o is not None}

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        route = self._route(scope) if scope["type"] == "http" else None
        try:
            headers = _headers(scope)
            scope[TRUSTED_HOST] = self._check_host(scope, headers)
            if scope["type"] == "websocket" or scope["method"] in CHANGING:
                self._check_origin(scope, headers)
            if route is not None:
                self._check_int_params(scope, route)
                if _takes_json(route) and scope["method"] in CHANGING:
                    receive = await self._checked_json(headers, receive)
        except Refusal as refusal:
            await self._refuse(scope, receive, send, route, refusal)
            return
        await self.app(scope, receive, send)

    # -- 1. Host ------------------------------------------------------------------------------------
    def _check_host(self, scope: ASGIScope, headers: dict[str, str]) -> bool:
        """True when the Host header was checked (so links may be built from it)."""
        server = scope.get("server")
        bound = str(server[0]).lower() if server else ""
        raw = headers.get("host")
        try:
            host, port = _split_host(raw) if raw is not None else ("", None)
        except ValueError:
            host, port = "", None
        on_loopback = bool(bound) and _is_loopback(bound)
        if not on_loopback and not self.allowed_hosts:
            return bool(host) and host == bound  # not checked, but it names the address itself
        if raw is None:
            return False  # HTTP/1.0: no name to check, nothing to build links from
        ok = bool(host) and (_is_loopback(host) or host == bound or any(
            host == h and (p is None or p == port) for h, p in self.allowed_hosts))
        if not ok:
            raise Refusal(421, "invalid_input",
                          f"this server does not answer to the host name '{raw[:100]}' (add it to "
                          "server.allowed_hosts when a proxy or DNS name in front of zhiku uses it)", host=raw[:100])
        return True

    # -- 2. Origin ----------------------------------------------------------------------------------
    def _check_origin(self, scope: ASGIScope, headers: dict[str, str]) -> None:
        origin = headers.get("origin")
        source = "Origin"
        if origin is None and headers.get("referer"):
            origin, source = headers["referer"], "Referer"
        if origin is None:
            site = headers.get("sec-fetch-site", "").lower()
            if site in ("cross-site", "same-site"):
                raise Refusal(403, "forbidden", f"a {site} browser request may not change anything here")
            return
        seen = _origin(origin)
        if seen is not None and (seen in self.allowed_origins or self._own(scope, headers, seen)):
            return
        raise Refusal(403, "forbidden",
                      f"requests from another site may not change anything here ({source}: {origin[:100]}); "
                      "add the site to server.allowed_origins to allow it", origin=origin[:100])

    @staticmethod
    def _own(scope: ASGIScope, headers: dict[str, str], seen: tuple[str, str, int]) -> bool:
        """The origin is the one the browser asked this server by (its Host header)."""
        try:
            host, port = _split_host(headers.get("host", ""))
        except ValueError:
            return False
        if not host:
            return False
        if port is None:  # the browser omits the default port of its scheme
            return seen[1] == host and seen[2] == _DEFAULT_PORT[seen[0]]
        return seen[1:] == (host, port)

    # -- 3. JSON bodies and integers ------------------------------------------------------------------
    def _route(self, scope: ASGIScope) -> APIRoute | None:
        probe = {k: v for k, v in scope.items() if k != "fastapi"}  # matching leaves the request as it was
        for matcher, route in _api_routes(self.router):
            match, child = matcher.matches(probe)
            if match == Match.FULL:
                scope.setdefault("zhiku.path_params", child.get("path_params", {}))
                return route
        return None

    @staticmethod
    def _check_int_params(scope: ASGIScope, route: APIRoute) -> None:
        wanted = {p.alias for p in route.dependant.query_params if _is_int(p.field_info.annotation)}
        values = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                              keep_blank_values=True) if k in wanted]
        wanted_path = {p.alias for p in route.dependant.path_params if _is_int(p.field_info.annotation)}
        values += [(k, str(v)) for k, v in scope.get("zhiku.path_params", {}).items() if k in wanted_path]
        for name, value in values:
            if _INTEGER.fullmatch(value) and not INT_MIN <= int(value) <= INT_MAX:
                raise Refusal(400, "invalid_input", f"'{name}' is out of range (integers fit in 64 bits)",
                              field=name)

    @staticmethod
    async def _checked_json(headers: dict[str, str], receive: Receive) -> Receive:
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > JSON_BODY_MAX_BYTES:
            raise Refusal(413, "too_large", f"a JSON body is at most {JSON_BODY_MAX_BYTES >> 20} MB",
                          limit_bytes=JSON_BODY_MAX_BYTES)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([message], receive)  # the client went away: let the app see it
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > JSON_BODY_MAX_BYTES:
                raise Refusal(413, "too_large", f"a JSON body is at most {JSON_BODY_MAX_BYTES >> 20} MB",
                              limit_bytes=JSON_BODY_MAX_BYTES)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.strip():
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            if not (kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))):
                raise Refusal(415, "unsupported_media_type",
                              f"send this body as JSON with 'Content-Type: application/json' "
                              f"(not {kind or 'no content type'})", content_type=kind)
            _check_json(body)
        return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)

    async def _refuse(self, scope: ASGIScope, receive: Receive, send: Send, route: APIRoute | None,
                      refusal: Refusal) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        from zhiku.api.routes.chatchat_common import ChatchatRoute, error_response

        if isinstance(route, ChatchatRoute):
            response = error_response(refusal.status, refusal.type, refusal.message, refusal.details)
        else:
            response = JSONResponse(error_body(refusal.type, refusal.message, refusal.details),
                                    status_code=refusal.status)
        await response(scope, receive, send)


def _api_routes(router: Any) -> Iterator[tuple[Any, APIRoute]]:
    """(what matches a request, its APIRoute) for every API route, included routers' too: newer
    FastAPI keeps an included router whole (``iter_route_contexts`` walks it), older copies its routes."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        yield from ((r, r) for r in router.routes if isinstance(r, APIRoute))
        return
    for context in iter_route_contexts(router.routes):
        if isinstance(context.original_route, APIRoute):
            yield context, context.original_route


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_int(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_int(a) for a in typing.get_args(annotation))
    return False


def _takes_json(route: APIRoute) -> bool:
    return route.body_field is not None and not isinstance(route.body_field.field_info, params.Form)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _check_json(body: bytes) -> None:
    """Refuse lone surrogates and integers outside 64 bits anywhere in a JSON body; a body that is
    not JSON at all is left to the route's validation (422)."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise Refusal(400, "invalid_input", "the JSON body is nested too deeply") from None
    except ValueError:
        return
    stack: list[tuple[str, Any]] = [("body", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            _text(where, item)
        elif isinstance(item, bool) or item is None or isinstance(item, float):
            continue
        elif isinstance(item, int):
            if not INT_MIN <= item <= INT_MAX:
                raise Refusal(400, "invalid_input", f"{where}: integer out of range (integers fit in 64 bits)",
                              field=where)
        elif isinstance(item, dict):
            for key, v in item.items():
                _text(where, key)
                stack.append((f"{where}.{key}", v))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(item))


def _text(where: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        safe = where.encode("utf-8", "replace").decode("utf-8")
        raise Refusal(400, "invalid_input",
                      f"{safe}: the text holds a lone surrogate (\\ud800-\\udfff), which is not a character",
                      field=safe) from None


def checked_base_url(request: Request) -> str:
    """The base URL of links the server builds for ``request`` (no trailing slash): the request's
    own when its Host header was checked, else the address it arrived at (a hostile Host header
    never ends up in a link)."""
    if request.scope.get(TRUSTED_HOST):
        return str(request.base_url).rstrip("/")
    server = request.scope.get("server")
    if not server or server[1] is None:
        return ""
    host = str(server[0])
    host = f"[{host}]" if ":" in host else host
    return f"{request.url.scheme}://{host}:{server[1]}"


def install(app: FastAPI, allowed_hosts: Iterable[str] = (), allowed_origins: Iterable[str] = ()) -> None:
    """Add the edge as the outermost middleware (call after every other ``add_middleware``)."""
    app.add_middleware(EdgeMiddleware, router=app.router, allowed_hosts=list(allowed_hosts),
                       allowed_origins=list(allowed_origins))
