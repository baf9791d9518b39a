"""Every route needs the key scopes of the README's table ("Users, keys and access"), and no other.

``NEEDS`` says, for every route of the app, which scopes a key must carry: reading (search, ask,
chat answers, listing and reading one's own conversations and file-chat uploads) needs ``read``;
anything that stores or changes state (uploads of any kind, file chat's included; creating, renaming
and deleting conversations, messages, feedback) needs ``write``; managing users, keys and grants
needs ``admin``. The admin scope does not imply the others. A handful of routes over the caller's
own session need none (``SCOPE_FREE`` in test_route_authorization.py).

The matrix calls every route of the route table with a minimal request, for an admin and a plain
user, each with a read-only, a write-only and an admin-only key and a web-login session key: a key
that lacks a scope the route needs gets 403 naming the scope, any other key is not refused for its
scopes. A route missing from ``NEEDS`` fails the test.
"""

from __future__ import annotations

from typing import Any, Iterator

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import ZH, SyncASGITransport
from tests.api.test_route_authorization import PUBLIC_ROUTES, declared, served_routes
from zhiku import Zhiku
from zhiku.api import create_app
from zhiku.api.security import AdminUser, Authorization, Caller, Scope

PASSWORD = "correct horse battery"
R, W, A = frozenset({"read"}), frozenset({"write"}), frozenset({"admin"})
RW = R | W
NONE: frozenset[str] = frozenset()

# what a key must carry for each route (the README's table, route by route)
NEEDS: dict[tuple[str, str], frozenset[str]] = {
    # session and one's own keys: nothing (see SCOPE_FREE); users and keys: admin
    ("POST", "/api/auth/logout"): NONE, ("GET", "/api/auth/me"): NONE, ("POST", "/api/auth/password"): NONE,
    ("DELETE", "/api/auth/keys/{key_id}"): NONE,  # your own key; another's needs admin (the route checks)
    ("GET", "/api/auth/keys"): A, ("POST", "/api/auth/keys"): A,
    ("GET", "/api/auth/users"): A, ("POST", "/api/auth/users"): A, ("PATCH", "/api/auth/users/{name}"): A,
    ("GET", "/api/auth/users/{name}"): R,
    # knowledge bases and their content
    ("GET", "/api/kbs"): R, ("POST", "/api/kbs"): W, ("GET", "/api/kbs/{kb}"): R,
    ("PATCH", "/api/kbs/{kb}"): W, ("DELETE", "/api/kbs/{kb}"): W,  # owners: rename, delete
    ("POST", "/api/kbs/{kb}/check"): R,  # ?repair=true: write
    ("POST", "/api/kbs/{kb}/rebuild"): W,
    ("POST", "/api/kbs/{kb}/migrate"): W, ("GET", "/api/kbs/{kb}/migrate"): R,  # owners move a KB
    ("GET", "/api/kbs/{kb}/files"): R, ("POST", "/api/kbs/{kb}/files"): W,
    ("GET", "/api/kbs/{kb}/files/{file_id}"): R, ("DELETE", "/api/kbs/{kb}/files/{file_id}"): W,
    ("GET", "/api/kbs/{kb}/files/{file_id}/chunks"): R, ("GET", "/api/kbs/{kb}/files/{file_id}/content"): R,
    ("GET", "/api/kbs/{kb}/files/{file_id}/images"): R, ("GET", "/api/kbs/{kb}/files/{file_id}/images/{image_id}"): R,
    ("POST", "/api/kbs/{kb}/files/{file_id}/reingest"): W,
    ("GET", "/api/kbs/{kb}/chunks/{chunk_id}"): R, ("PATCH", "/api/kbs/{kb}/chunks/{chunk_id}"): W,
    ("DELETE", "/api/kbs/{kb}/chunks/{chunk_id}"): W,
    ("GET", "/api/kbs/{kb}/grants"): W,  # the owner's business: ownership is a write-level need
    ("PUT", "/api/kbs/{kb}/grants/{user}"): A | W, ("DELETE", "/api/kbs/{kb}/grants/{user}"): A | W,
    ("GET", "/api/jobs"): R, ("GET", "/api/jobs/{job_id}"): R, ("GET", "/api/jobs/{job_id}/events"): R,
    ("DELETE", "/api/jobs/{job_id}"): W, ("POST", "/api/jobs/{job_id}/cancel"): W,
    ("POST", "/api/jobs/{job_id}/retry"): W,
    ("GET", "/api/embedders"): R, ("GET", "/api/models"): R,
    # settings: what answers can use reads; changing model servers and defaults is an admin's
    ("GET", "/api/settings"): R, ("PUT", "/api/settings/models/{name}"): A,
    ("DELETE", "/api/settings/models/{name}"): A, ("POST", "/api/settings/test-connection"): A,
    ("PUT", "/api/settings/defaults"): A,
    ("GET", "/api/settings/detect"): A, ("POST", "/api/settings/detect/add"): A, ("GET", "/api/settings/catalog"): A,
    ("POST", "/api/settings/pulls"): A, ("GET", "/api/settings/pulls/{pull_id}"): A,
    ("DELETE", "/api/settings/pulls/{pull_id}"): A,
    # folders a KB follows: reading reads; syncing writes; following a server folder is an admin owner's
    ("GET", "/api/kbs/{kb}/sources"): R, ("GET", "/api/kbs/{kb}/sources/{source_id}"): R,
    ("POST", "/api/kbs/{kb}/sources"): A | W, ("POST", "/api/kbs/{kb}/sources/{source_id}/sync"): W,
    ("DELETE", "/api/kbs/{kb}/sources/{source_id}"): W,
    # summaries: reading one reads (a stale one is made again on the way); making one again writes
    ("GET", "/api/kbs/{kb}/summary"): R, ("POST", "/api/kbs/{kb}/summary"): W, ("GET", "/api/kbs/{kb}/summaries"): R,
    ("GET", "/api/kbs/{kb}/files/{file:path}/summary"): R, ("POST", "/api/kbs/{kb}/files/{file:path}/summary"): W,
    # reading and answering
    ("POST", "/api/search"): R, ("POST", "/api/ask"): R, ("POST", "/api/chat"): R,
    # the agent's tools: listing reads; calling one by hand is an admin's
    ("GET", "/api/tools"): R, ("POST", "/api/tools/call"): A,
    ("GET", "/api/tools/servers"): R,
    # file chat: uploading stores files; looking at them reads
    ("POST", "/api/chat/files"): W, ("GET", "/api/chat/files/{temp_kb_id}"): R,
    ("POST", "/api/chat/approvals/{approval_id}"): W,  # approving an agent's call acts through the caller
    ("DELETE", "/api/chat/files/{temp_kb_id}"): W,
    # conversations: reading them reads; changing them writes (and naming KBs or asking also reads)
    ("GET", "/api/conversations"): R, ("GET", "/api/conversations/{conversation_id}"): R,
    ("GET", "/api/conversations/{conversation_id}/export"): R,
    ("POST", "/api/conversations"): RW, ("PATCH", "/api/conversations/{conversation_id}"): RW,
    ("POST", "/api/conversations/{conversation_id}/messages"): RW,
    ("DELETE", "/api/conversations/{conversation_id}"): W, ("POST", "/api/messages/{message_id}/feedback"): W,
    # Chatchat-compatible
    ("GET", "/knowledge_base/list_knowledge_bases"): R, ("GET", "/knowledge_base/list_files"): R,
    ("GET", "/knowledge_base/download_doc"): R, ("POST", "/knowledge_base/search_docs"): R,
    ("POST", "/knowledge_base/create_knowledge_base"): W, ("POST", "/knowledge_base/delete_knowledge_base"): W,
    ("POST", "/knowledge_base/update_info"): W, ("POST", "/knowledge_base/upload_docs"): W,
    ("POST", "/knowledge_base/update_docs"): W, ("POST", "/knowledge_base/delete_docs"): W,
    ("POST", "/knowledge_base/recreate_vector_store"): W,
    ("POST", "/knowledge_base/upload_temp_docs"): W, ("POST", "/knowledge_base/search_temp_docs"): R,
    ("POST", "/chat/file_chat"): R, ("POST", "/chat/kb_chat"): R, ("POST", "/chat/feedback"): W,
    ("POST", "/knowledge_base/chat/completions"): R, ("POST", "/knowledge_base/{mode}/{param}/chat/completions"): R,
    ("GET", "/tools"): R, ("POST", "/tools/call"): A, ("POST", "/chat/chat/completions"): R,  # the agent's
    ("POST", "/server/configs"): R, ("POST", "/server/get_prompt_template"): R, ("POST", "/other/embed_texts"): R,
    ("POST", "/knowledge_base/kb_summary_api/summary_file_to_vector_store"): W,
    ("POST", "/knowledge_base/kb_summary_api/summary_doc_ids_to_vector_store"): W,
    ("POST", "/knowledge_base/kb_summary_api/recreate_summary_vector_store"): W,
    # OpenAI-compatible
    ("GET", "/v1/models"): R, ("GET", "/v1/models/{model}"): R, ("POST", "/v1/chat/completions"): R,
    ("POST", "/v1/embeddings"): R,
}

MISSING_ID = "0" * 32
# path parameters: things that do not exist (a route that lets the key through answers 404 or 422)
PATH_VALUES = {"kb": "没有", "param": "没有", "mode": "local_kb", "name": "nobody", "user": "nobody",
               "key_id": "ffffffffffff", "model": "nope", "chunk_id": "999999", "file_id": MISSING_ID,
               "job_id": MISSING_ID, "temp_kb_id": MISSING_ID, "conversation_id": MISSING_ID,
               "message_id": MISSING_ID, "approval_id": MISSING_ID, "source_id": MISSING_ID, "file": "a/b.md",
               "image_id": "f" * 64, "pull_id": MISSING_ID}
MD = ("a.md", b"# a\n\nhello\n")
ASK = [{"role": "user", "content": "年假"}]
# a minimal valid request of each route that takes a body or a query
REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/auth/password"): {"json": {"old_password": PASSWORD, "new_password": PASSWORD}},
    ("POST", "/api/auth/keys"): {"json": {"name": "m", "scopes": ["read"]}},
    ("POST", "/api/auth/users"): {"json": {"name": "someone", "password": PASSWORD}},
    ("PATCH", "/api/auth/users/{name}"): {"json": {"disabled": False}},
    ("POST", "/api/kbs"): {"json": {"name": "新库"}},
    ("PUT", "/api/settings/models/{name}"): {"json": {"base_url": "http://127.0.0.1:9/v1", "model": "m"}},
    ("POST", "/api/settings/test-connection"): {"json": {"base_url": "http://127.0.0.1:9/v1"}},
    ("PUT", "/api/settings/defaults"): {"json": {"default_model": None}},
    ("POST", "/api/kbs/{kb}/sources"): {"json": {"path": "/nonexistent-folder"}},
    ("PATCH", "/api/kbs/{kb}"): {"json": {"description": "x"}},
    ("POST", "/api/kbs/{kb}/files"): {"files": [("files", MD)]},
    ("PATCH", "/api/kbs/{kb}/chunks/{chunk_id}"): {"json": {"text": "x"}},
    ("PUT", "/api/kbs/{kb}/grants/{user}"): {"json": {"access": "read"}},
    ("POST", "/api/search"): {"json": {"kbs": ["没有"], "query": "年假"}},
    ("POST", "/api/ask"): {"json": {"kbs": ["没有"], "question": "年假"}},
    ("POST", "/api/chat"): {"json": {"mode": "llm", "messages": ASK}},
    ("POST", "/api/tools/call"): {"json": {"name": "calculator", "arguments": {"expression": "1+1"}}},
    ("POST", "/api/chat/approvals/{approval_id}"): {"json": {"approve": False}},
    ("POST", "/tools/call"): {"json": {"name": "calculator", "tool_input": {"expression": "1+1"}}},
    ("POST", "/chat/chat/completions"): {"json": {"messages": ASK}},
    ("POST", "/api/chat/files"): {"files": [("files", MD)]},
    ("POST", "/api/conversations"): {"json": {"mode": "llm"}},
    ("PATCH", "/api/conversations/{conversation_id}"): {"json": {"title": "renamed"}},
    ("POST", "/api/conversations/{conversation_id}/messages"): {"json": {"content": "年假"}},
    ("POST", "/api/messages/{message_id}/feedback"): {"json": {"rating": "up"}},
    ("GET", "/knowledge_base/list_files"): {"params": {"knowledge_base_name": "没有"}},
    ("GET", "/knowledge_base/download_doc"): {"params": {"knowledge_base_name": "没有", "file_name": "a.md"}},
    ("POST", "/knowledge_base/search_docs"): {"json": {"knowledge_base_name": "没有", "query": "年假"}},
    ("POST", "/knowledge_base/create_knowledge_base"): {"json": {"knowledge_base_name": "新库2"}},
    ("POST", "/knowledge_base/delete_knowledge_base"): {"json": "没有"},
    ("POST", "/knowledge_base/update_info"): {"json": {"knowledge_base_name": "没有", "kb_info": "x"}},
    ("POST", "/knowledge_base/upload_docs"): {"data": {"knowledge_base_name": "没有"}, "files": [("files", MD)]},
    ("POST", "/knowledge_base/update_docs"): {"json": {"knowledge_base_name": "没有", "file_names": ["a.md"]}},
    ("POST", "/knowledge_base/delete_docs"): {"json": {"knowledge_base_name": "没有", "file_names": ["a.md"]}},
    ("POST", "/knowledge_base/recreate_vector_store"): {"json": {"knowledge_base_name": "没有"}},
    ("POST", "/knowledge_base/upload_temp_docs"): {"files": [("files", MD)]},
    ("POST", "/knowledge_base/search_temp_docs"): {"json": {"knowledge_id": MISSING_ID, "query": "年假"}},
    ("POST", "/chat/file_chat"): {"json": {"knowledge_id": MISSING_ID, "query": "年假"}},
    ("POST", "/chat/kb_chat"): {"json": {"query": "年假", "kb_name": "没有", "stream": False}},
    ("POST", "/chat/feedback"): {"json": {"message_id": MISSING_ID, "score": 80}},
    ("POST", "/knowledge_base/chat/completions"): {"json": {"kb_name": "没有", "messages": ASK}},
    ("POST", "/knowledge_base/{mode}/{param}/chat/completions"): {"json": {"messages": ASK}},
    ("POST", "/v1/chat/completions"): {"json": {"model": "nope", "messages": ASK}},
    ("POST", "/v1/embeddings"): {"json": {"input": "年假"}},
    ("POST", "/other/embed_texts"): {"json": {"texts": ["年假"]}},
    ("POST", "/knowledge_base/kb_summary_api/summary_file_to_vector_store"): {
        "json": {"knowledge_base_name": "没有", "file_name": "a.md"}},
    ("POST", "/knowledge_base/kb_summary_api/summary_doc_ids_to_vector_store"): {
        "json": {"knowledge_base_name": "没有", "doc_ids": []}},
    ("POST", "/knowledge_base/kb_summary_api/recreate_summary_vector_store"): {"json": {"knowledge_base_name": "没有"}},
}
# routes that end the key they are called with (a fresh one is made for them) or need a real conversation
ENDS_THE_KEY = {("POST", "/api/auth/logout"), ("POST", "/api/auth/password")}
IN_A_CONVERSATION = {("POST", "/api/conversations/{conversation_id}/messages"),
                     ("PATCH", "/api/conversations/{conversation_id}")}
KEYS: dict[str, frozenset[str] | None] = {"read-only": R, "write-only": W, "admin-only": A, "session": None}
ROLES = ("admin", "user")


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    return {(m, r.path) for r in served_routes(app) if r.dependant is not None for m in r.methods} - PUBLIC_ROUTES


def refused_scope(response: httpx.Response) -> str | None:
    """The scope a 403 says the key lacks (None: not refused for a scope)."""
    if response.status_code != 403:
        return None
    return response.json()["error"]["details"].get("scope")


class Server:
    """An app with auth on and a user of each role, each with a conversation (llm mode)."""

    def __init__(self, zk: Zhiku) -> None:
        self.zk = zk
        zk.auth.create_user("root", PASSWORD, "admin")
        zk.auth.create_user("pat", PASSWORD, "user")
        self.users = {"admin": "root", "user": "pat"}
        self.conversations = {role: zk.conversations.create(zk.auth.user(name).id, "llm", "c", {}).id
                              for role, name in self.users.items()}
        self.transport = SyncASGITransport(create_app(zk))
        self.clients: list[httpx.Client] = []

    def client(self, role: str, key: str) -> httpx.Client:
        name, scopes = self.users[role], KEYS[key]
        secret = (self.zk.auth.login(name, PASSWORD)[1] if scopes is None
                  else self.zk.auth.create_key(name, key, tuple(scopes))[1])
        c = httpx.Client(base_url="http://127.0.0.1", transport=self.transport,
                         headers={"Authorization": f"Bearer {secret}"})
        self.clients.append(c)
        return c

    def call(self, role: str, key: str, client: httpx.Client, method: str, path: str) -> httpx.Response:
        values = dict(PATH_VALUES)
        if (method, path) in IN_A_CONVERSATION:
            values["conversation_id"] = self.conversations[role]
        if (method, path) in ENDS_THE_KEY:
            client = self.client(role, key)
        url = path.replace(":path}", "}").format(**values)  # {file:path}: a file name, folders included
        return client.request(method, url, **REQUESTS.get((method, path), {}))

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.transport.close()


@pytest.fixture
def server(zk: Zhiku) -> Iterator[Server]:
    s = Server(zk)
    yield s
    s.close()


def scope_of(check: Authorization) -> str:
    """The key scope a declaration asks for: its need, but a KB owner's need (admin) takes write."""
    if isinstance(check, (Scope, AdminUser, Caller)) or check.need != "admin":
        return str(check.need)
    return "write"


def test_every_route_says_what_it_needs(zk: Zhiku) -> None:
    app = create_app(zk, start_jobs=False)
    table = route_table(app)
    assert table - NEEDS.keys() == set(), "a route without a row in NEEDS (and in the README's table)"
    assert NEEDS.keys() - table == set(), "NEEDS names a route that does not exist"
    # and what each route declares is what the table says (the need of an ownership check is write)
    differ = []
    for route in served_routes(app):
        if route.dependant is None:
            continue
        checks = declared(route.dependant)
        scopes = {scope_of(a) for a in checks if isinstance(a.need, str)}
        for method in route.methods:
            if (method, route.path) in NEEDS and not any(callable(a.need) for a in checks):
                if scopes != NEEDS[(method, route.path)]:
                    differ.append(f"{method} {route.path}: declares {sorted(scopes)}, needs "
                                  f"{sorted(NEEDS[(method, route.path)])}")
    assert differ == [], "\n".join(differ)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", list(KEYS))
def test_the_scope_matrix(server: Server, role: str, key: str) -> None:
    client = server.client(role, key)
    has = KEYS[key] or frozenset({"read", "write", "admin"})
    wrong = []
    for method, path in sorted(NEEDS, key=lambda k: (k in ENDS_THE_KEY, k[0] == "DELETE", k)):
        response = server.call(role, key, client, method, path)
        missing = NEEDS[(method, path)] - has
        refused = refused_scope(response)
        if missing and refused not in missing:
            wrong.append(f"{method} {path}: {response.status_code}, expected 403 for {sorted(missing)}")
        elif not missing and (refused is not None or (role == "admin" and response.status_code == 403)):
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
    assert wrong == [], f"{len(wrong)} of {len(NEEDS)} routes wrong for a {key} key of a {role}:\n" + "\n".join(wrong)


# -- the cases found by the probe -----------------------------------------------------------------
def test_a_read_only_key_stores_nothing(server: Server) -> None:
    reader = server.client("user", "read-only")
    before = len(server.zk.conversations.list(server.zk.auth.user("pat").id, 100, 0))
    for url, kw in [("/api/chat/files", {"files": [("files", MD)]}),
                    ("/knowledge_base/upload_temp_docs", {"files": [("files", MD)]}),
                    ("/api/conversations", {"json": {"mode": "llm"}}),
                    ("/chat/feedback", {"json": {"message_id": MISSING_ID, "score": 80}})]:
        assert refused_scope(reader.post(url, **kw)) == "write", url
    conv = server.conversations["user"]
    assert refused_scope(reader.patch(f"/api/conversations/{conv}", json={"title": "x"})) == "write"
    assert refused_scope(reader.delete(f"/api/conversations/{conv}")) == "write"
    assert refused_scope(reader.post(f"/api/conversations/{conv}/messages", json={"content": "年假"})) == "write"
    # nothing was stored: the same conversations, and the conversation unchanged
    assert len(server.zk.conversations.list(server.zk.auth.user("pat").id, 100, 0)) == before
    got = reader.get(f"/api/conversations/{conv}")
    assert got.status_code == 200 and got.json()["title"] == "c" and got.json()["messages"] == []
    assert reader.get("/api/conversations").status_code == 200  # reading stays open to it


def test_an_admin_only_key_neither_reads_conversations_nor_uploads(server: Server) -> None:
    admin = server.client("admin", "admin-only")
    assert refused_scope(admin.get("/api/conversations")) == "read"
    assert refused_scope(admin.post("/api/chat/files", files=[("files", MD)])) == "write"
    assert refused_scope(admin.post("/api/chat", json={"mode": "llm", "messages": ASK})) == "read"
    assert admin.get("/api/auth/users").status_code == 200  # what it is for


def test_a_web_login_does_everything_the_ui_does(server: Server) -> None:
    session = server.client("user", "session")
    up = session.post("/api/chat/files", files=[("files", ("年假.md", ZH.encode()))])
    assert up.status_code == 202, up.text
    conv = session.post("/api/conversations", json={"mode": "llm"})
    assert conv.status_code == 201, conv.text
    cid = conv.json()["id"]
    assert session.patch(f"/api/conversations/{cid}", json={"title": "改名"}).status_code == 200
    assert session.get("/api/conversations").status_code == 200
    assert session.delete(f"/api/conversations/{cid}").status_code == 204
    assert session.delete(f"/api/chat/files/{up.json()['id']}").status_code == 204
