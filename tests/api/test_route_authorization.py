"""Every route declares its authorisation, and the declaration is what runs.

The walker reads the real app's route table (the API, the Chatchat-compatible routers kept out of
the OpenAPI schema, /v1, the docs): a route whose request names a knowledge base (a path or query
parameter, a body field at any depth, a documented form field) must declare a KB dependency that
covers that input; every other route must declare some :class:`~zhiku.api.security.Authorization`
(a scope, admin, the caller's own things) or be public. And every route declares the key scope it
needs: some declaration with a ``need`` (``Caller()`` has none), or it is on the pinned list of
scope-free routes (``SCOPE_FREE``). Then a sample of routes of every kind is driven with keys that
may not do what they ask (tests/api/test_scopes.py drives all of them with every kind of key).
"""

from __future__ import annotations

import inspect
import re
import types
from dataclasses import dataclass
from typing import Annotated, Any, Iterator, Union, get_args, get_origin

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from tests.api.conftest import ZH, SyncASGITransport
from zhiku import Zhiku
from zhiku.api import create_app
from zhiku.api.deps import KBRead
from zhiku.api.security import PUBLIC_PATHS, Authorization, Caller, Scope, is_public, kbs_in_body

PASSWORD = "correct horse battery"
# parameters and fields that name a knowledge base by their name; others say so in their description
KB_INPUT_NAMES = {"kb", "kbs", "kb_name", "knowledge_base_name"}
KB_DESCRIPTION = re.compile(r"knowledge base|知识库|`kb:")
# answered without a key and without any check: the allow-list
PUBLIC_ROUTES = {("GET", "/api/health"), ("GET", "/api/version"), ("POST", "/api/auth/login"), ("GET", "/docs"),
                 ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"), ("GET", "/")}
# inputs a route reads no knowledge base from: the path form of Chatchat's OpenAI-shaped chat takes
# the KB from its path; its body's kb_name serves the body form (/knowledge_base/chat/completions) only
IGNORED_INPUTS = {("POST", "/knowledge_base/{mode}/{param}/chat/completions"): {"kb_name"}}
NOT_API_ROUTES = {"/openapi.json", "/docs-assets"}  # the schema (public) and the docs' static files (a mount)
# Chatchat's other paths: JSON 404 in its envelope for what zhiku does not serve (read nothing, need no key)
NOT_API_ROUTES |= {p for prefix in ("/chat", "/knowledge_base", "/tools", "/server", "/other")
                   for p in (prefix, prefix + "/{rest:path}")}
# routes that need no scope at all, and why: they touch the caller's own session only. Everything
# else the caller owns (conversations, file-chat uploads, feedback) needs read to look, write to change.
SCOPE_FREE = {
    ("GET", "/api/auth/me"),  # who am I and which scopes does this key carry: what a client asks first
    ("POST", "/api/auth/logout"),  # ends the key it is sent with, whatever it may do
    ("POST", "/api/auth/password"),  # asks for the old password again; any web login may change it
    ("DELETE", "/api/auth/keys/{key_id}"),  # revoking the key you hold is logging out; another's needs admin
}


# -- the walker --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """One route as the app serves it (its routers' prefixes and dependencies applied)."""

    path: str
    methods: frozenset[str]
    dependant: Dependant | None  # None: not an API route (a mount, a plain Starlette route)
    openapi_extra: dict[str, Any]
    include_in_schema: bool


def served_routes(app: FastAPI) -> list[Route]:
    """Every route of the app. FastAPI 0.120+ keeps included routers as routers and resolves
    their routes lazily (``iter_route_contexts``); older versions copied them into ``app.routes``."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI
        contexts: list[Any] = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    out = []
    for r in contexts:
        api = isinstance(getattr(r, "original_route", r), APIRoute)
        out.append(Route(r.path, frozenset(getattr(r, "methods", None) or ()) - {"HEAD", "OPTIONS"},
                         r.dependant if api else None, (r.openapi_extra or {}) if api else {},
                         bool(getattr(r, "include_in_schema", False))))
    return out


def declared(dependant: Dependant) -> list[Authorization]:
    """Every Authorization among the dependencies of a route (at any depth, decorator and router ones too)."""
    found = []
    for sub in dependant.dependencies:
        if isinstance(sub.call, Authorization):
            found.append(sub.call)
        found += declared(sub)
    return found


def _every(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _every(sub)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside an annotation (through Optional, unions, lists, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType, list, tuple, set, dict, Annotated):
        return [m for arg in get_args(annotation) for m in _models(arg)]
    return []


def _model_inputs(model: type[BaseModel], prefix: str = "",
                  seen: frozenset[type] = frozenset()) -> Iterator[tuple[str, str]]:
    if model in seen:
        return
    for name, field in model.model_fields.items():
        yield prefix + name, field.description or ""
        for inner in _models(field.annotation):
            yield from _model_inputs(inner, f"{prefix}{name}.", seen | {model})


def request_inputs(route: Route) -> list[tuple[str, str]]:
    """(name, description) of everything a request to ``route`` sends: path and query parameters,
    body fields (dotted at depth), documented form fields."""
    assert route.dependant is not None
    dependants = list(_every(route.dependant))
    out = [(f.alias, f.field_info.description or "") for d in dependants for f in d.path_params + d.query_params]
    out += [(name, "") for name in re.findall(r"\{(\w+)", route.path)]
    for body in (b for d in dependants for b in d.body_params):
        out += [i for m in _models(body.field_info.annotation) for i in _model_inputs(m)]
    for content in route.openapi_extra.get("requestBody", {}).get("content", {}).values():
        out += [(name, prop.get("description", "")) for name, prop in content["schema"].get("properties", {}).items()]
    return out


def kb_inputs(route: Route) -> set[str]:
    return {name for name, description in request_inputs(route)
            if name.rsplit(".", 1)[-1] in KB_INPUT_NAMES or KB_DESCRIPTION.search(description)}


def declared_twice(route: Route) -> set[str]:
    """Inputs that more than one dependency of the route validates: each would report its errors
    (a KB dependency hands the route what it read instead; one that only peeks at an input the route
    checks declares it with ``include_in_schema=False``, as a plain string)."""
    assert route.dependant is not None
    seen: dict[str, int] = {}
    for d in _every(route.dependant):
        for f in d.path_params + d.query_params + d.body_params:
            if getattr(f.field_info, "include_in_schema", True):
                seen[f.alias] = seen.get(f.alias, 0) + 1
    return {name for name, n in seen.items() if n > 1}


def problems(app: FastAPI) -> list[str]:
    """What is wrong with the authorisation of the app's routes (empty: nothing)."""
    found = []
    for route in served_routes(app):
        if route.dependant is None:
            if route.path not in NOT_API_ROUTES:
                found.append(f"{route.path}: not an API route and not on the allow-list")
            continue
        for method in sorted(route.methods):
            where = f"{method} {route.path}"
            checks = declared(route.dependant)
            named = kb_inputs(route) - IGNORED_INPUTS.get((method, route.path), set())
            covered = {c for a in checks if a.names_kbs for c in a.covers}
            if named - covered:
                found.append(f"{where}: names a knowledge base in {sorted(named - covered)} "
                             f"but declares no KB dependency covering it (declares {checks})")
            elif not checks and (method, route.path) not in PUBLIC_ROUTES:
                found.append(f"{where}: declares no authorisation dependency and is not public")
            elif checks and all(a.need is None for a in checks) and (method, route.path) not in SCOPE_FREE:
                found.append(f"{where}: declares no scope (Caller() without one) and is not on SCOPE_FREE")
            if twice := declared_twice(route):
                found.append(f"{where}: declares {sorted(twice)} more than once")
    return found


@pytest.fixture
def app(zk: Zhiku) -> FastAPI:
    return create_app(zk, start_jobs=False)


def _routes(app: FastAPI) -> dict[tuple[str, str], Route]:
    return {(m, r.path): r for r in served_routes(app) if r.dependant is not None for m in r.methods}


def test_every_route_declares_its_authorisation(app: FastAPI) -> None:
    assert problems(app) == []
    routes = _routes(app)
    # the walk saw every face: the API, /v1, the Chatchat routers outside the schema, the docs
    for key in [("POST", "/api/search"), ("POST", "/v1/chat/completions"), ("POST", "/knowledge_base/upload_docs"),
                ("POST", "/chat/kb_chat"), ("POST", "/knowledge_base/{mode}/{param}/chat/completions"),
                ("GET", "/knowledge_base/download_doc"), ("GET", "/docs")]:
        assert key in routes, key
    assert not routes[("POST", "/chat/kb_chat")].include_in_schema
    # and found the knowledge bases where each kind of route names them
    assert kb_inputs(routes[("GET", "/api/kbs/{kb}")]) == {"kb"}
    assert kb_inputs(routes[("POST", "/api/search")]) == {"kbs"}
    assert kb_inputs(routes[("POST", "/api/conversations")]) == {"kbs", "settings.kbs"}
    assert kb_inputs(routes[("POST", "/v1/chat/completions")]) == {"model"}
    assert kb_inputs(routes[("GET", "/knowledge_base/list_files")]) == {"knowledge_base_name"}
    assert kb_inputs(routes[("POST", "/knowledge_base/upload_docs")]) == {"knowledge_base_name"}
    assert kb_inputs(routes[("POST", "/knowledge_base/{mode}/{param}/chat/completions")]) == {"param", "kb_name"}
    assert kb_inputs(routes[("GET", "/api/jobs")]) == {"kb"}


def test_the_allow_lists_are_what_they_say(app: FastAPI) -> None:
    routes = _routes(app)
    unchecked = {k for k, r in routes.items() if r.dependant is not None and not declared(r.dependant)}
    assert unchecked == PUBLIC_ROUTES
    assert all(is_public(path) for _, path in PUBLIC_ROUTES) and "/openapi.json" in PUBLIC_PATHS
    scope_free = {k for k, r in routes.items() if r.dependant is not None and (checks := declared(r.dependant))
                  and all(a.need is None for a in checks)}
    assert scope_free == SCOPE_FREE
    for key in SCOPE_FREE:  # and they declare the caller, nothing that would need a scope
        dependant = routes[key].dependant
        assert dependant is not None and all(isinstance(a, Caller) for a in declared(dependant)), key


def test_an_open_servers_checks_run_on_the_event_loop(app: FastAPI) -> None:
    """FastAPI runs a plain-function dependency in the thread pool: one hand-over of the interpreter
    each, which a burst of chats queued for (1-1.7 ms each on an idle server; three before a chat's
    route ran). Every authorisation is a coroutine, and reads the database in the thread pool only for
    a signed-in caller (``security.checked``), except a job's, which reads the job for everyone."""
    from zhiku.api.deps import get_zhiku
    from zhiku.api.security import JobOfKB

    seen: set[str] = set()
    for route in served_routes(app):
        if route.dependant is None:
            continue
        for d in _every(route.dependant):
            if isinstance(d.call, Authorization) and not isinstance(d.call, JobOfKB):
                seen.add(type(d.call).__name__)
                assert inspect.iscoroutinefunction(type(d.call).__call__), (route.path, d.call)
            if d.call is get_zhiku:
                seen.add("get_zhiku")
                assert inspect.iscoroutinefunction(d.call)
    # the walk met every kind of check the routes declare
    assert {"Scope", "Caller", "AdminUser", "ReadableKBs", "KBNamed", "KBsInBody", "KBInForm", "CreatesKB",
            "_ModelInPath", "get_zhiku"} <= seen, seen


class Choices(BaseModel):
    kbs: list[str]


class Nested(BaseModel):
    choices: Choices | None = None


# a KB dependency that covers the wrong input (the KBs are in choices.kbs)
WrongCover = Annotated[Nested, Depends(kbs_in_body("read", Nested, lambda b: [], ["kbs"]))]
ChoicesBody = Annotated[Choices, Depends(kbs_in_body("read", Choices, lambda b: b.kbs, ["kbs"]))]


def test_the_walker_flags_a_route_without_its_dependency(app: FastAPI) -> None:
    extra = APIRouter()

    @extra.get("/api/kbs/{kb}/secret")
    def secret(kb: str) -> str:  # a {kb} path parameter, nothing declared
        return kb

    @extra.get("/api/kbs/{kb}/scoped", dependencies=[Depends(Scope("read"))])
    def scoped(kb: str) -> str:  # a scope is not a KB check
        return kb

    @extra.post("/api/nested")
    def nested(body: WrongCover) -> None:
        return None

    @extra.get("/api/thing")
    def thing() -> str:  # no KB, no scope
        return "thing"

    @extra.post("/api/twice")
    def twice(body: Choices, checked: ChoicesBody) -> None:  # the body validated twice: errors said twice
        return None

    @extra.get("/api/kbs/{kb}/fine")
    def fine(kb: KBRead) -> str:
        return kb.name

    @extra.post("/api/mine", dependencies=[Depends(Caller())])
    def mine() -> None:  # the caller's own, but no scope: a read-only key could store things
        return None

    @extra.post("/api/mine/scoped", dependencies=[Depends(Caller("write"))])
    def mine_scoped() -> None:
        return None

    app.include_router(extra)
    flagged = problems(app)
    assert len(flagged) == 6, flagged
    assert any(p.startswith("GET /api/kbs/{kb}/secret: names a knowledge base in ['kb']") for p in flagged)
    assert any(p.startswith("GET /api/kbs/{kb}/scoped: names a knowledge base in ['kb']") for p in flagged)
    assert any(p.startswith("POST /api/nested: names a knowledge base in ['choices.kbs']") for p in flagged)
    assert "GET /api/thing: declares no authorisation dependency and is not public" in flagged
    assert "POST /api/twice: declares ['body'] more than once" in flagged
    assert "POST /api/mine: declares no scope (Caller() without one) and is not on SCOPE_FREE" in flagged


# -- the declarations at work -------------------------------------------------------------------
class Keys:
    """An app with auth on: alice owns 手册 (with one file), bob may read it, carol may not."""

    def __init__(self, zk: Zhiku) -> None:
        for name in ("alice", "bob", "carol"):
            zk.auth.create_user(name, PASSWORD)
        self.transport = SyncASGITransport(create_app(zk))
        self.clients: list[httpx.Client] = []
        self.zk = zk
        owner = self.client("alice", ("read", "write"))
        assert owner.post("/api/kbs", json={"name": "手册"}).status_code == 201
        job = owner.post("/api/kbs/手册/files", files=[("files", ("年假.md", ZH.encode()))]).json()
        self.job_id = job["id"]
        zk.auth.grant("手册", "bob", "read")

    def client(self, user: str, scopes: tuple[str, ...]) -> httpx.Client:
        secret = self.zk.auth.create_key(user, "test", scopes)[1]
        c = httpx.Client(base_url="http://zhiku.test", transport=self.transport,
                         headers={"Authorization": f"Bearer {secret}"})
        self.clients.append(c)
        return c

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.transport.close()


@pytest.fixture
def keys(zk: Zhiku) -> Iterator[Keys]:
    k = Keys(zk)
    yield k
    k.close()


# (method, url, request keywords) of routes that change the KB 手册, one per way of naming it
WRITES = [
    ("POST", "/api/kbs/手册/rebuild", {}),  # path
    ("POST", "/api/kbs/手册/files", {"files": [("files", ("a.md", b"# a\n\nhello\n"))]}),  # path, streamed body
    ("POST", "/knowledge_base/delete_docs",  # body
     {"json": {"knowledge_base_name": "手册", "file_names": ["x.md"]}}),
    ("POST", "/knowledge_base/upload_docs", {"data": {"knowledge_base_name": "手册"},  # form field
                                             "files": [("files", ("a.md", b"# a\n\nhello\n"))]}),
    ("POST", "/api/kbs/手册/check?repair=true", {}),  # path, need chosen by the query
]
# routes that read it, one per way of naming it
READS = [
    ("GET", "/api/kbs/手册", {}),
    ("POST", "/api/search", {"json": {"kbs": ["手册"], "query": "年假"}}),
    ("GET", "/api/jobs?kb=手册", {}),
    ("POST", "/api/conversations", {"json": {"mode": "kb", "kbs": ["手册"]}}),
    ("POST", "/api/chat", {"json": {"mode": "kb", "kbs": ["手册"], "messages": [{"role": "user", "content": "年假"}]}}),
    ("POST", "/v1/chat/completions", {"json": {"model": "kb:手册", "messages": [{"role": "user", "content": "年"}]}}),
    ("GET", "/knowledge_base/list_files?knowledge_base_name=手册", {}),
    ("POST", "/knowledge_base/search_docs", {"json": {"knowledge_base_name": "手册", "query": "年假"}}),
    ("POST", "/chat/kb_chat", {"json": {"query": "年假", "kb_name": "手册", "stream": False}}),
    ("POST", "/knowledge_base/local_kb/手册/chat/completions",
     {"json": {"messages": [{"role": "user", "content": "年假"}]}}),
]


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json()["error"]


@pytest.mark.parametrize(("method", "url", "kw"), WRITES, ids=[w[1] for w in WRITES])
def test_a_read_only_key_is_refused_writes_on_its_own_kb(keys: Keys, method: str, url: str, kw: dict[str, Any]) -> None:
    reader = keys.client("alice", ("read",))
    error = _error(reader.request(method, url, **kw), 403)
    assert error["type"] == "forbidden" and error["details"]["scope"] == "write"
    assert reader.get("/api/kbs/手册").status_code == 200  # the same key reads it


@pytest.mark.parametrize(("method", "url", "kw"), WRITES, ids=[w[1] for w in WRITES])
def test_a_reader_of_the_kb_is_refused_writes(keys: Keys, method: str, url: str, kw: dict[str, Any]) -> None:
    bob = keys.client("bob", ("read", "write"))
    error = _error(bob.request(method, url, **kw), 403)
    assert error["type"] == "forbidden" and error["details"]["access"] == "read", error
    assert bob.get("/api/kbs/手册").status_code == 200


@pytest.mark.parametrize(("method", "url", "kw"), READS + WRITES, ids=[r[1] for r in READS + WRITES])
def test_another_users_kb_is_not_found(keys: Keys, method: str, url: str, kw: dict[str, Any]) -> None:
    carol = keys.client("carol", ("read", "write"))
    hidden = carol.request(method, url, **kw)
    missing = carol.request(method, url.replace("手册", "没有"), **_renamed(kw))
    # exactly like a KB that does not exist: same status, same body but for the name
    assert hidden.status_code == missing.status_code and hidden.text == missing.text.replace("没有", "手册")
    if hidden.status_code != 200:
        assert _error(hidden, 404)["type"] == "not_found"
    else:  # a Chatchat route answers as Chatchat: its code 404 in an HTTP 200, or search_docs' []
        body = hidden.json()
        assert body == [] if url.endswith("search_docs") else (body["code"], body["error"]["type"]) == (404, "not_found")


def _renamed(kw: dict[str, Any]) -> dict[str, Any]:
    """The same request keywords naming the KB 没有 (which does not exist) instead."""
    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("手册", "没有")
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    return {k: (v if k == "files" else swap(v)) for k, v in kw.items()}


def test_jobs_follow_their_kb(keys: Keys) -> None:
    assert keys.client("bob", ("read",)).get(f"/api/jobs/{keys.job_id}").status_code == 200
    error = _error(keys.client("bob", ("read", "write")).post(f"/api/jobs/{keys.job_id}/cancel"), 403)
    assert error["details"]["access"] == "read"
    error = _error(keys.client("carol", ("read", "write")).get(f"/api/jobs/{keys.job_id}"), 404)
    assert error["message"] == f"job {keys.job_id} does not exist"


def test_the_route_gets_the_authorised_kb_and_a_bad_body_is_still_a_422(keys: Keys) -> None:
    alice = keys.client("alice", ("read", "write"))
    assert alice.get("/api/kbs/手册").json()["name"] == "手册"
    # the body is validated once: by the dependency that hands it to the route
    for method, url, body in [("POST", "/api/search", {"kbs": ["手册"]}), ("PATCH", "/api/kbs/手册", {"name": ""}),
                              ("POST", "/api/conversations/nope/messages", {"content": "hi"}),
                              ("POST", "/knowledge_base/update_info", {"knowledge_base_name": "手册"}),
                              ("POST", "/api/kbs/手册/check?repair=maybe", None)]:
        error = _error(alice.request(method, url, json=body), 422)
        assert error["type"] == "validation_error" and len(error["details"]["errors"]) == 1, (url, error)
    # a chat model (no KB) still needs the read scope on /v1
    scopeless = keys.client("alice", ("admin",))
    r = scopeless.post("/v1/chat/completions", json={"model": "nope", "messages": [{"role": "user", "content": "x"}]})
    assert _error(r, 403)["details"]["scope"] == "read"
