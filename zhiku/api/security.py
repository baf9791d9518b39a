"""Who is calling, and may they do this? The one place the API checks access.

- ``AuthMiddleware`` (installed by ``create_app``) turns ``Authorization: Bearer <key>`` into
  ``request.state.principal``. When auth is on (``zhiku.auth.AuthService.enabled``), a request for
  an API route (any route of the app's router, and anything under /api/ or /v1/) with no valid key
  gets 401 (one error shape, ``WWW-Authenticate: Bearer``) unless its path is public
  (``PUBLIC_PATHS``: health, version, the API docs, login). Mounted apps (the docs' assets, the web
  UI, which signs in through the API itself) are not API routes; included routers are, wherever
  they live (the Chatchat-compatible ``/knowledge_base/...``, ``/chat/...``). When auth is off every caller is
  the local single user (an admin).
- Every route declares what it needs as a dependency, an :class:`Authorization` (the ``Annotated``
  aliases of ``zhiku.api.deps``: ``KBRead``, ``KBWrite``, ``KBOwner``, ``ReadScope``...). A route
  that touches a knowledge base declares a KB dependency (:class:`KBsNamed` and its helpers
  :func:`kb_in_path`, :func:`kb_in_query`, :func:`kbs_in_body`; :class:`KBInForm`, :class:`CreatesKB`,
  :class:`JobOfKB`), which authorises the KBs the request names before the route runs and hands it
  them. A KB the caller cannot read answers 404 like an unknown one (names do not leak); one they
  can read but not change answers 403, and so does a key whose scopes fall short (read for reading,
  write for changes, admin for managing keys and grants). Any other route declares
  :class:`Scope`, :class:`AdminUser`, :class:`ReadableKBs` or, for what belongs to the caller alone,
  :class:`Caller` with the scope it needs (``Caller("write")``).
- Every route needs a scope, whatever the request names (the README's table): read to look and ask,
  write to store or change anything (file chat's uploads, conversations and feedback included), admin
  to manage users, keys and grants; admin does not imply read or write. A KB dependency asks the key
  for its scope even when the request names no KB. Only a few routes over the caller's own session
  (``Caller()``: me, logout, password, revoking one's own key) need none.
  tests/api/test_route_authorization.py walks every route and fails on one that declares no scope
  and is not on its pinned lists; tests/api/test_scopes.py drives every route with every kind of key.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Mapping

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as ASGIScope

from zhiku.api.errors import error_body
from zhiku.auth import ANONYMOUS, LOCAL_USER, AuthService, Need, Principal
from zhiku.errors import NotFound

__all__ = ["LOCAL_USER", "PUBLIC_PATHS", "AdminUser", "AuthMiddleware", "Authorization", "AuthorizedKB", "Caller",
           "CreatesKB", "FormKBCheck", "JobOfKB", "KBInForm", "KBNamed", "KBsInBody", "KBsNamed", "Need", "Principal",
           "ReadableKBs", "Scope", "checked", "install", "is_public", "kb_in_path", "kb_in_query", "kbs_in_body",
           "principal"]

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


def bearer_token(scope: ASGIScope) -> str | None:
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

    def _is_api(self, scope: ASGIScope) -> bool:
        """Under /api/ or /v1/, or served by an API route of the app, included routers too. Mounted
        apps and plain Starlette routes (the web UI's own sign-in form posts) are not API routes."""
        if scope["path"].startswith(API_PREFIXES):
            return True
        probe = {k: v for k, v in scope.items() if k != "fastapi"}  # matching must leave the request as it was
        return any(r.matches(probe)[0] != Match.NONE for r in self.router.routes
                   if not isinstance(r, Mount) and (isinstance(r, APIRoute) or not isinstance(r, Route)))

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        enabled = self.auth.enabled_if_known()  # a database read only when its periodic check is due
        if enabled is None:
            enabled = await run_in_threadpool(self.auth.enabled)
        if not enabled:
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


def _require_scope(request: Request, scope: Need) -> Principal:
    who = principal(request)
    AuthService.require_scope(who, scope)
    return who


def _require_need(request: Request, need: Need) -> None:
    """Raise unless the caller's key has the scope a KB need takes (an owner's need: write)."""
    _authorize(request, [], need)


def _authorize(request: Request, names: Iterable[str], need: Need) -> list[AuthorizedKB]:
    """Raise unless the caller may ``need`` every knowledge base named (read: search and read;
    write: upload, edit, delete content; admin: rename or delete the KB, manage its grants).
    Even an empty list asks the key for the scope ``need`` takes."""
    wanted = list(dict.fromkeys(names))
    who = principal(request)
    if who is not LOCAL_USER:
        _auth(request).check(who, wanted, need)
    return [AuthorizedKB(name, need) for name in wanted]


async def checked(request: Request, check: Callable[..., Any], *args: Any) -> Any:
    """``check(*args)``: on the event loop for the local user of an open server, whose checks read no
    database; in the thread pool for a signed-in caller, whose grants are read from it. Each trip to the
    thread pool is a hand-over of the interpreter that a burst of requests queues for (3 of them before
    a chat's route ran, 1-1.7 ms each on an idle server)."""
    if principal(request) is LOCAL_USER:
        return check(*args)
    return await run_in_threadpool(check, *args)


# -- the dependencies every route declares ----------------------------------------------------
@dataclass(frozen=True)
class AuthorizedKB:
    """A knowledge base the caller was found to have ``need`` access to: what a KB dependency hands
    its route (its existence is the route's business: an open server checks no names)."""

    name: str
    need: Need


class Authorization:
    """Base of the dependencies that authorise a request. Every route of the app declares at least
    one (``Depends(<instance>)``, usually through an ``Annotated`` alias of ``zhiku.api.deps``), so
    the route table says what each route needs: ``route.dependant`` lists them, and
    tests/api/test_route_authorization.py walks every route.

    ``names_kbs``: resolves and authorises the knowledge bases the request names, read from the
    request inputs ``covers`` lists (path or query parameters, body or form fields)."""

    names_kbs: ClassVar[bool] = False
    need: Need | Callable[..., Need] | None = None
    covers: tuple[str, ...] = ()

    def __repr__(self) -> str:
        need = self.need if isinstance(self.need, str) or self.need is None else "computed"
        return f"{type(self).__name__}(need={need!r}, covers={self.covers!r})"


def _signature(params: Mapping[str, Any], defaults: Mapping[str, Any], returns: Any) -> inspect.Signature:
    """The signature FastAPI reads to fill a dependency: the request, then ``params`` (name →
    annotation, e.g. a Path, Query or body model), keyword-only."""
    out = [inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)]
    out += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                              default=defaults.get(name, inspect.Parameter.empty))
            for name, annotation in params.items()]
    return inspect.Signature(out, return_annotation=returns)


class Scope(Authorization):
    """The caller, when their key has the scope ``need`` (403 otherwise): routes that touch no
    knowledge base (read: look, write: create, admin: manage keys and grants)."""

    need: Need

    def __init__(self, need: Need) -> None:
        self.need = need

    async def __call__(self, request: Request) -> Principal:  # the key's scopes: no database read
        return _require_scope(request, self.need)


class AdminUser(Authorization):
    """The caller, when they are an admin holding a key with the admin scope: managing users."""

    need = "admin"

    async def __call__(self, request: Request) -> Principal:  # the principal's role: no database read
        who = principal(request)
        _auth(request).require_admin(who)
        return who


class Caller(Authorization):
    """The caller, when their key has the scope ``need``: routes over what belongs to the caller
    alone (their conversations, file-chat uploads), which check the owner themselves. ``Caller()``
    needs no scope: only the caller's own session (me, logout, password, revoking the key one holds),
    pinned in tests/api/test_route_authorization.py."""

    need: Need | None

    def __init__(self, need: Need | None = None) -> None:
        self.need = need

    async def __call__(self, request: Request) -> Principal:  # no database read
        return principal(request) if self.need is None else _require_scope(request, self.need)


class ReadableKBs(Authorization):
    """For listings: ids of the knowledge bases the caller may read (None: every one); read scope."""

    need = "read"

    async def __call__(self, request: Request) -> set[str] | None:
        who = _require_scope(request, "read")
        return None if who is LOCAL_USER else await run_in_threadpool(_auth(request).readable_kb_ids, who)


class KBsNamed(Authorization):
    """Authorises every knowledge base the request names, at ``need``, before the route runs. A KB
    the caller cannot read answers 404 like an unknown one (names do not leak), one they can read
    but not change 403, and so does a key without the scope ``need`` takes.

    ``params`` are the request inputs to read (name → annotation: ``kb=KBName`` for a path
    parameter, ``body=SearchRequest`` for the body); ``names(**params)`` picks the KB names from
    them, or None when this request touches no KB (then only the key's scope is checked: the route
    needs it whatever the request names). ``need`` may be a function of the same inputs. FastAPI
    validates each input once per declaration, so a route does not declare again what its
    dependency reads (its errors would be reported twice): it takes what the dependency hands it
    (the KBs; :class:`KBsInBody`: the body)."""

    names_kbs = True

    def __init__(self, need: Need | Callable[..., Need], names: Callable[..., Iterable[str] | None], *,
                 covers: Iterable[str], defaults: Mapping[str, Any] | None = None, **params: Any) -> None:
        self.need, self.names, self.covers = need, names, tuple(covers)
        self.__signature__ = _signature(params, defaults or {}, Any)

    def _kbs(self, request: Request, values: dict[str, Any]) -> list[AuthorizedKB] | None:
        names = self.names(**values)
        need = self.need(**values) if callable(self.need) else self.need
        assert need is not None
        if names is None:  # no KB to check, but the route still needs the scope
            _require_need(request, need)
            return None
        return _authorize(request, names, need)

    async def __call__(self, request: Request, **values: Any) -> Any:
        return await checked(request, self._kbs, request, values) or []


class KBNamed(KBsNamed):
    """:class:`KBsNamed` for one knowledge base (a ``{kb}`` path parameter, a query parameter):
    hands the route that one, or None when the request names none."""

    async def __call__(self, request: Request, **values: Any) -> Any:
        kbs = await checked(request, self._kbs, request, values)
        return kbs[0] if kbs else None


class KBsInBody(KBsNamed):
    """:class:`KBsNamed` whose inputs include the request body (``body=``): hands the route the
    body, validated once, after the knowledge bases it names were authorised."""

    async def __call__(self, request: Request, **values: Any) -> Any:
        await checked(request, self._kbs, request, values)
        return values["body"]


def kb_in_path(need: Need, annotation: Any, name: str = "kb") -> KBNamed:
    """The knowledge base of a ``{kb}`` path parameter."""
    return KBNamed(need, lambda **v: [v[name]], covers=(name,), **{name: annotation})


def kb_in_query(need: Need, annotation: Any, name: str, optional: bool = False) -> KBNamed:
    """The knowledge base of a query parameter (``optional``: none named, nothing checked)."""
    return KBNamed(need, lambda **v: None if v[name] is None else [v[name]], covers=(name,),
                   defaults={name: None} if optional else None, **{name: annotation})


def kbs_in_body(need: Need, body: Any, names: Callable[[Any], Iterable[str] | None],
                covers: Iterable[str]) -> KBsInBody:
    """The request body (``body``: its annotation), once the knowledge bases it names are authorised."""
    return KBsInBody(need, lambda body: names(body), covers=covers, body=body)


class KBInForm(Authorization):
    """For multipart routes that stream their files to disk: the form field naming the KB is
    checked as it arrives, before any later file part is written. The route passes what this
    hands it as ``on_field`` to ``receive_form``; after the form, ``.kb`` is the authorised KB."""

    names_kbs = True
    need: Need

    def __init__(self, need: Need, field: str) -> None:
        self.need, self.field, self.covers = need, field, (field,)

    async def __call__(self, request: Request) -> FormKBCheck:
        await checked(request, _require_need, request, self.need)  # before a byte of the form is read
        return FormKBCheck(request, self.field, self.need)


class FormKBCheck:
    """What :class:`KBInForm` hands its route: call it with each form field as it is complete."""

    def __init__(self, request: Request, field: str, need: Need) -> None:
        self.request, self.field, self.need = request, field, need
        self.kb: AuthorizedKB | None = None

    def __call__(self, name: str, value: str) -> None:
        if name == self.field and value:
            self.request.app.state.zhiku.kb(value)  # an unknown KB answers 404 before any access check
            self.kb = _authorize(self.request, [value], self.need)[0]


class CreatesKB(Authorization):
    """Creating a knowledge base (write scope): hands the route a function to call with the new
    KB's name, which makes the caller its owner (on an open server there is nobody to record)."""

    names_kbs = True
    need = "write"

    def __init__(self, covers: Iterable[str]) -> None:
        self.covers = tuple(covers)

    async def __call__(self, request: Request) -> Callable[[str], None]:  # the key's scopes: no database read
        who = _require_scope(request, "write")

        def claim(kb: str) -> None:
            if who is not LOCAL_USER and who.user_id:
                _auth(request).set_owner(kb, who.user_id)

        return claim


class JobOfKB(Authorization):
    """An ingestion job, when the caller may ``need`` its knowledge base (else it does not exist
    for them: 404)."""

    names_kbs = True
    need: Need

    def __init__(self, need: Need, job_id: Any) -> None:
        self.need, self.covers = need, ("job_id",)
        self.__signature__ = _signature({"job_id": job_id}, {}, Any)

    def __call__(self, request: Request, job_id: str) -> Any:
        _require_need(request, self.need)  # a key without the scope learns nothing of the job
        job = request.app.state.zhiku.job(job_id)
        try:
            _authorize(request, [job.kb], self.need)
        except NotFound:
            raise NotFound(f"job {job_id} does not exist", job_id=job_id) from None
        return job


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

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
