"""The wire protocol both ends of the API speak, in one place: what each route takes and
returns (``Routes``; the chat routes are ``zhiku.client.chat_routes``) and error bodies turned
back into ``ZhikuError`` subclasses. ``zhiku.client.http`` executes these descriptions over
httpx; the server's routes validate with the same bodies (``zhiku.client.models``); streamed
responses are read by ``zhiku.client.events``.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Sequence, Union
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from zhiku.client.auth_models import ApiKeyInfo, GrantInfo, LoginResult, Me, NewApiKey, UserInfo
from zhiku.client.models import ChatModelInfo, CheckResult, Embedders, Health, RebuildResult, Version
from zhiku.errors import ConfigError, Conflict, InvalidInput, NotFound, TooLarge, Unavailable, ZhikuError
from zhiku.schema import Answer, Chunk, FileRecord, Hit, KnowledgeBase
from zhiku.schema.jobs import Job

DEFAULT_URL = "http://127.0.0.1:7861"
UploadItem = Union[str, Path, tuple[str, Union[bytes, IO[bytes]]]]
_BY_STATUS: dict[int, type[ZhikuError]] = {
    400: InvalidInput, 404: NotFound, 409: Conflict, 413: TooLarge, 422: InvalidInput, 503: Unavailable}


def _error_classes() -> dict[str, type[ZhikuError]]:
    out: dict[str, type[ZhikuError]] = {}
    todo: list[type[ZhikuError]] = [ZhikuError]
    while todo:
        cls = todo.pop()
        out.setdefault(cls.kind, cls)
        todo.extend(cls.__subclasses__())
    return out


def error_from_response(response: httpx.Response) -> ZhikuError:
    """The ZhikuError an error response stands for."""
    try:
        body = response.json()["error"]
        kind, message, details = str(body["type"]), str(body["message"]), dict(body.get("details") or {})
    except (ValueError, KeyError, TypeError):
        kind, message, details = "", f"HTTP {response.status_code}: {response.text[:200]}", {}
    cls = _error_classes().get(kind) or _BY_STATUS.get(response.status_code, ZhikuError)
    exc = cls.__new__(cls)
    ZhikuError.__init__(exc, message, **details)  # some subclasses take other arguments
    exc.kind = kind or cls.kind
    exc.status_code = response.status_code
    return exc


@dataclass
class Call:
    method: str
    path: str
    parse: Callable[[Any], Any] | None = None  # from the JSON body; None: nothing to read
    params: dict[str, Any] | None = None
    json: Any = None


def parse_as(tp: Any) -> Callable[[Any], Any]:
    adapter = TypeAdapter(tp)
    return adapter.validate_python


def seg(value: str) -> str:
    return quote(value, safe="")


def _kbs(kbs: str | Sequence[str]) -> list[str]:
    return [kbs] if isinstance(kbs, str) else list(kbs)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class Routes:
    """What each API call sends and how its answer is read (shared by both clients)."""

    health = staticmethod(lambda: Call("GET", "/api/health", parse_as(Health)))
    version = staticmethod(lambda: Call("GET", "/api/version", parse_as(Version)))
    embedders = staticmethod(lambda: Call("GET", "/api/embedders", parse_as(Embedders)))
    list_models = staticmethod(lambda check: Call(
        "GET", "/api/models", parse_as(list[ChatModelInfo]), params={"check": True} if check else None))
    list_kbs = staticmethod(lambda: Call("GET", "/api/kbs", parse_as(list[KnowledgeBase])))
    get_kb = staticmethod(lambda kb: Call("GET", f"/api/kbs/{seg(kb)}", parse_as(KnowledgeBase)))
    delete_kb = staticmethod(lambda kb: Call("DELETE", f"/api/kbs/{seg(kb)}"))
    rebuild_kb = staticmethod(lambda kb: Call("POST", f"/api/kbs/{seg(kb)}/rebuild", parse_as(RebuildResult)))
    check_kb = staticmethod(lambda kb, repair: Call(
        "POST", f"/api/kbs/{seg(kb)}/check", parse_as(CheckResult), params={"repair": True} if repair else None))

    @staticmethod
    def create_kb(name: str, description: str, embedder: str | None) -> Call:
        body = _drop_none({"name": name, "description": description, "embedder": embedder})
        return Call("POST", "/api/kbs", parse_as(KnowledgeBase), json=body)

    @staticmethod
    def update_kb(kb: str, new_name: str | None, description: str | None) -> Call:
        body = _drop_none({"name": new_name, "description": description})
        return Call("PATCH", f"/api/kbs/{seg(kb)}", parse_as(KnowledgeBase), json=body)

    @staticmethod
    def list_files(kb: str, status: str | None) -> Call:
        return Call("GET", f"/api/kbs/{seg(kb)}/files", parse_as(list[FileRecord]), params=_drop_none({"status": status}))

    get_file = staticmethod(lambda kb, fid: Call("GET", f"/api/kbs/{seg(kb)}/files/{seg(fid)}", parse_as(FileRecord)))
    delete_file = staticmethod(lambda kb, fid: Call("DELETE", f"/api/kbs/{seg(kb)}/files/{seg(fid)}"))
    reingest = staticmethod(
        lambda kb, fid: Call("POST", f"/api/kbs/{seg(kb)}/files/{seg(fid)}/reingest", parse_as(Job)))
    list_chunks = staticmethod(
        lambda kb, fid: Call("GET", f"/api/kbs/{seg(kb)}/files/{seg(fid)}/chunks", parse_as(list[Chunk])))
    get_chunk = staticmethod(lambda kb, cid: Call("GET", f"/api/kbs/{seg(kb)}/chunks/{int(cid)}", parse_as(Chunk)))
    edit_chunk = staticmethod(
        lambda kb, cid, text: Call("PATCH", f"/api/kbs/{seg(kb)}/chunks/{int(cid)}", parse_as(Chunk), json={"text": text}))
    delete_chunk = staticmethod(lambda kb, cid: Call("DELETE", f"/api/kbs/{seg(kb)}/chunks/{int(cid)}"))

    @staticmethod
    def search(kbs: str | Sequence[str], query: str, top_k: int | None, mode: str | None, file: str | None,
               rerank: str | None = None) -> Call:
        body = _drop_none({"kbs": _kbs(kbs), "query": query, "top_k": top_k, "mode": mode, "file": file,
                           "rerank": rerank})
        return Call("POST", "/api/search", parse_as(list[Hit]), json=body)

    @staticmethod
    def ask(kbs: str | Sequence[str], question: str, top_k: int | None, mode: str | None, stream: bool) -> Call:
        body = _drop_none({"kbs": _kbs(kbs), "question": question, "top_k": top_k, "mode": mode, "stream": stream})
        return Call("POST", "/api/ask", parse_as(Answer), json=body)

    @staticmethod
    def list_jobs(kb: str | None, status: str | None, limit: int) -> Call:
        return Call("GET", "/api/jobs", parse_as(list[Job]), params=_drop_none({"kb": kb, "status": status, "limit": limit}))

    get_job = staticmethod(lambda jid: Call("GET", f"/api/jobs/{seg(jid)}", parse_as(Job)))
    cancel_job = staticmethod(lambda jid: Call("POST", f"/api/jobs/{seg(jid)}/cancel", parse_as(Job)))
    retry_job = staticmethod(lambda jid: Call("POST", f"/api/jobs/{seg(jid)}/retry", parse_as(Job)))
    delete_job = staticmethod(lambda jid: Call("DELETE", f"/api/jobs/{seg(jid)}"))
    job_events = staticmethod(lambda jid: Call("GET", f"/api/jobs/{seg(jid)}/events"))
    upload = staticmethod(lambda kb, force: Call(
        "POST", f"/api/kbs/{seg(kb)}/files", parse_as(Job), params={"force": True} if force else None))
    download = staticmethod(lambda kb, fid, page=None: Call(
        "GET", f"/api/kbs/{seg(kb)}/files/{seg(fid)}/content", params=_drop_none({"page": page}) or None))

    # -- login, users, API keys, KB grants (zhiku.api.routes.auth) -------------------------------
    login = staticmethod(lambda username, password: Call(
        "POST", "/api/auth/login", parse_as(LoginResult), json={"username": username, "password": password}))
    logout = staticmethod(lambda: Call("POST", "/api/auth/logout"))
    me = staticmethod(lambda: Call("GET", "/api/auth/me", parse_as(Me)))
    change_password = staticmethod(lambda old, new: Call(
        "POST", "/api/auth/password", json={"old_password": old, "new_password": new}))
    list_users = staticmethod(lambda: Call("GET", "/api/auth/users", parse_as(list[UserInfo])))
    get_user = staticmethod(lambda name: Call("GET", f"/api/auth/users/{seg(name)}", parse_as(UserInfo)))
    create_user = staticmethod(lambda name, password, role: Call(
        "POST", "/api/auth/users", parse_as(UserInfo), json={"name": name, "password": password, "role": role}))
    update_user = staticmethod(lambda name, role, disabled, password: Call(
        "PATCH", f"/api/auth/users/{seg(name)}", parse_as(UserInfo),
        json=_drop_none({"role": role, "disabled": disabled, "password": password})))
    list_keys = staticmethod(lambda user, all_users, revoked: Call(
        "GET", "/api/auth/keys", parse_as(list[ApiKeyInfo]),
        params=_drop_none({"user": user, "all": all_users or None, "revoked": revoked or None})))
    create_key = staticmethod(lambda name, scopes, expires_days, user: Call(
        "POST", "/api/auth/keys", parse_as(NewApiKey),
        json=_drop_none({"name": name, "scopes": list(scopes) if scopes else None, "expires_days": expires_days,
                         "user": user})))
    revoke_key = staticmethod(lambda key_id: Call("DELETE", f"/api/auth/keys/{seg(key_id)}"))
    list_grants = staticmethod(lambda kb: Call("GET", f"/api/kbs/{seg(kb)}/grants", parse_as(list[GrantInfo])))
    grant_kb = staticmethod(lambda kb, user, access: Call(
        "PUT", f"/api/kbs/{seg(kb)}/grants/{seg(user)}", parse_as(list[GrantInfo]), json={"access": access}))
    revoke_kb = staticmethod(lambda kb, user: Call("DELETE", f"/api/kbs/{seg(kb)}/grants/{seg(user)}"))


def upload_parts(items: Sequence[UploadItem], stack: ExitStack) -> list[tuple[str, tuple[str, Any]]]:
    parts: list[tuple[str, tuple[str, Any]]] = []
    for item in items:
        if isinstance(item, (str, Path)):
            path = Path(item)
            if not path.is_file():
                raise InvalidInput(f"no such file: {path}", path=str(path))
            parts.append(("files", (path.name, stack.enter_context(path.open("rb")))))
        else:
            parts.append(("files", (item[0], item[1])))
    if not parts:
        raise InvalidInput("give at least one file to upload")
    return parts


def unreachable(base_url: Any, exc: httpx.TransportError) -> Unavailable:
    return Unavailable(f"cannot reach the zhiku server at {base_url}: {exc}", url=str(base_url))


def check_url(base_url: str) -> None:
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"server URL must start with http:// or https://: {base_url}")
