"""Authentication and authorisation of the API: keys hashed at rest, scopes, per-KB access,
grants, login/logout, and every route of the OpenAPI schema behind a key when auth is on."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import httpx
import pytest
from sqlalchemy import select

from tests.api.conftest import ZH, LiveServer, SyncASGITransport, assert_error
from zhiku import Zhiku
from zhiku.api import create_app
from zhiku.client import AsyncZhikuClient, ZhikuClient
from zhiku.errors import Conflict, Forbidden, NotFound, Unauthorized
from zhiku.store.db import api_keys, users

PASSWORD = "correct horse battery"
# answered without a key even when auth is on; everything else in the schema must say 401
PUBLIC = {("GET", "/api/health"), ("GET", "/api/version"), ("POST", "/api/auth/login")}
SAMPLE_PARAMS = {"kb": "手册", "file_id": "0" * 32, "job_id": "0" * 32, "chunk_id": "1", "key_id": "0" * 32,
                 "user": "bob", "name": "bob"}


class Server:
    """The app over one Zhiku with auth on: raw httpx clients and typed clients per key."""

    def __init__(self, zk: Zhiku) -> None:
        self.zk = zk
        self.app = create_app(zk)
        self.transport = SyncASGITransport(self.app)
        self._clients: list[Any] = []

    def raw(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        c = httpx.Client(base_url="http://zhiku.test", transport=self.transport, headers=headers)
        self._clients.append(c)
        return c

    def client(self, token: str | None = None) -> ZhikuClient:
        c = ZhikuClient("http://zhiku.test", api_key=token, transport=self.transport)
        self._clients.append(c)
        return c

    def key(self, user: str, scopes: tuple[str, ...] = ("read", "write"), **kw: Any) -> str:
        return self.zk.auth.create_key(user, "test", scopes, **kw)[1]

    def close(self) -> None:
        for c in self._clients:
            c.close()
        self.transport.close()


@pytest.fixture
def srv(zk: Zhiku) -> Iterator[Server]:
    zk.auth.create_user("root", PASSWORD, "admin")
    zk.auth.create_user("alice", PASSWORD)
    zk.auth.create_user("bob", PASSWORD)
    s = Server(zk)
    yield s
    s.close()


def _fill(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PARAMS.get(m.group(1), "x"), path)


def test_every_route_in_the_schema_needs_a_key_when_auth_is_on(srv: Server) -> None:
    anonymous, bogus = srv.raw(), srv.raw("zk-not-a-real-key")
    schema = anonymous.get("/openapi.json")
    assert schema.status_code == 200  # the schema and the docs stay readable
    assert anonymous.get("/docs").status_code == 200 and anonymous.get("/redoc").status_code == 200
    paths = schema.json()["paths"]
    operations = [(m.upper(), p) for p, item in paths.items() for m in item
                  if m in ("get", "post", "put", "patch", "delete")]
    assert len(operations) > 30 and ("GET", "/api/auth/me") in operations
    scheme = schema.json()["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for method, path in operations:  # the schema says which routes want a key (the docs' Authorize button)
        op = paths[path][method.lower()]
        assert (op.get("security") == []) == ((method, path) in PUBLIC), (method, path)
        assert (method, path) in PUBLIC or "401" in op["responses"], (method, path)
    checked = 0
    for method, path in operations:
        if (method, path) in PUBLIC:
            continue
        for client in (anonymous, bogus):
            r = client.request(method, _fill(path), json={})
            err = assert_error(r, 401, "unauthorized")
            assert r.headers["www-authenticate"] == "Bearer", (method, path)
            assert ("Bearer" in err["message"]) if client is anonymous else ("not valid" in err["message"])
        checked += 1
    assert checked == len(operations) - len(PUBLIC & set(operations))
    # the allow-list answers without a key
    assert anonymous.get("/api/health").status_code == 200
    assert anonymous.get("/api/version").status_code == 200
    assert_error(anonymous.post("/api/auth/login", json={"username": "root", "password": "nope"}), 401)
    # a path no route serves under /api asks for a key too, rather than telling what exists
    assert_error(anonymous.get("/api/no-such-thing"), 401, "unauthorized")


def test_routers_anywhere_need_a_key_but_mounted_apps_and_plain_routes_do_not(srv: Server) -> None:
    """Routers included outside /api (the Chatchat-compatible ones) are guarded; the web UI (a mounted
    app) and its plain sign-in form route answer without a key and sign in through the API themselves."""
    from fastapi import APIRouter
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    extra = APIRouter()

    @extra.get("/elsewhere/thing")
    def thing() -> dict[str, str]:
        return {"secret": "data"}

    srv.app.include_router(extra)
    srv.app.router.routes.append(Route("/ui/login", lambda request: PlainTextResponse("form"), methods=["POST"]))
    srv.app.mount("/", app=PlainTextResponse("the web UI"))
    anonymous = srv.raw()
    assert_error(anonymous.get("/elsewhere/thing"), 401, "unauthorized")
    assert srv.raw(srv.key("alice")).get("/elsewhere/thing").json() == {"secret": "data"}
    assert anonymous.post("/ui/login").text == "form"
    assert anonymous.get("/some/page").text == "the web UI"
    assert_error(anonymous.get("/api/kbs"), 401, "unauthorized")


def test_open_server_without_users_needs_no_key(zk: Zhiku) -> None:
    s = Server(zk)
    try:
        c = s.client()
        me = c.me()
        assert me.auth_enabled is False and me.user.role == "admin" and me.scopes == ["read", "write", "admin"]
        c.create_kb("手册")
        assert [k.name for k in c.list_kbs()] == ["手册"]
        # a garbage key changes nothing on an open server
        assert [k.name for k in s.client("zk-garbage").list_kbs()] == ["手册"]
        # the first user switches auth on, for this running server too
        zk.auth.create_user("root", PASSWORD, "admin")
        with pytest.raises(Unauthorized):
            c.list_kbs()
        assert s.client(s.key("root")).me().auth_enabled is True
    finally:
        s.close()


def test_an_open_server_reads_whether_auth_is_on_once_a_second(zk: Zhiku) -> None:
    """Each request asks whether auth is on. An open server answers from what it read last, on the
    event loop, and reads the database again (in the thread pool) once the recheck is due, so a user
    made from the CLI (another process: another AuthService on the same database) still turns auth on."""
    import time

    from zhiku.auth import AuthService
    from zhiku.auth.identity import NO_USERS_RECHECK_S

    server = zk.auth
    assert server.enabled() is False  # read now
    assert server.enabled_if_known() is False  # known: no read needed
    AuthService(zk.engine, zk.settings.auth).create_user("root", PASSWORD, "admin")  # the CLI
    assert server.enabled_if_known() is False  # not read again yet
    time.sleep(NO_USERS_RECHECK_S + 0.1)
    assert server.enabled_if_known() is None  # a read is due
    assert server.enabled() is True
    assert server.enabled_if_known() is True  # users are never deleted: on for good, no more reads


def test_keys_and_passwords_are_hashed_at_rest(srv: Server) -> None:
    key, secret = srv.zk.auth.create_key("alice", "laptop", ["read"])
    assert secret.startswith("zk-") and len(secret) > 40
    with srv.zk.engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.id == key.id)).one()._asdict()
        user = conn.execute(select(users).where(users.c.name == "alice")).one()._asdict()
    assert all(secret not in str(v) and secret[3:] not in str(v) for v in row.values())
    assert row["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["prefix"] == secret[:10] and row["scopes"] == ["read"]
    assert PASSWORD not in str(user) and user["password_hash"].startswith("scrypt$")
    # listings show the prefix, never the secret
    listed = srv.raw(srv.key("alice", ("admin",))).get("/api/auth/keys").json()
    assert {k["prefix"] for k in listed} >= {secret[:10]} and secret not in str(listed)


def test_scopes_are_enforced(srv: Server) -> None:
    reader = srv.client(srv.key("alice", ("read",)))
    writer = srv.client(srv.key("alice", ("read", "write")))
    writer.create_kb("alice-kb")
    assert [k.name for k in reader.list_kbs()] == ["alice-kb"]
    assert reader.search("alice-kb", "年假") == []
    with pytest.raises(Forbidden, match="'write' scope") as e:
        reader.create_kb("another")
    assert e.value.status_code == 403  # type: ignore[attr-defined]
    with pytest.raises(Forbidden, match="'write' scope"):
        reader.upload("alice-kb", [("a.md", ZH.encode())])
    with pytest.raises(Forbidden, match="'write' scope"):
        reader.delete_kb("alice-kb")
    # managing keys needs the admin scope, even your own
    with pytest.raises(Forbidden, match="'admin' scope"):
        writer.create_key("more")
    with pytest.raises(Forbidden, match="'admin' scope"):
        writer.list_keys()
    # an admin-scoped key of a plain user manages their keys, not users
    manager = srv.client(srv.key("alice", ("admin",)))
    new = manager.create_key("ci", ["read"], expires_days=30)
    assert new.key.scopes == ["read"] and new.key.user == "alice" and new.key.expires_at is not None
    with pytest.raises(Forbidden, match="admin"):
        manager.list_users()
    with pytest.raises(Forbidden):
        manager.create_key("for bob", user="bob")
    raw = srv.raw(srv.key("alice", ("read",)))
    body = assert_error(raw.post("/api/kbs", json={"name": "x"}), 403, "forbidden")
    assert body["details"]["scope"] == "write"


def test_users_see_only_their_own_kbs_and_admins_see_all(srv: Server) -> None:
    alice, bob = srv.client(srv.key("alice")), srv.client(srv.key("bob"))
    root = srv.client(srv.key("root"))
    alice.create_kb("alice-kb")
    bob.create_kb("bob-kb")
    job = alice.wait_for_job(alice.upload("alice-kb", [("年假.md", ZH.encode())]).id, timeout=60)
    assert job.status == "done" and job.files_failed == 0, job
    assert [k.name for k in alice.list_kbs()] == ["alice-kb"]
    assert [k.name for k in bob.list_kbs()] == ["bob-kb"]
    assert {k.name for k in root.list_kbs()} == {"alice-kb", "bob-kb"}
    assert root.search("alice-kb", "年假几天")[0].file == "年假.md"
    assert alice.search("alice-kb", "年假几天")

    # to bob, alice's KB is exactly like one that does not exist
    file_id = alice.list_files("alice-kb")[0].id
    missing = srv.raw(srv.key("bob")).get("/api/kbs/no-such-kb").json()["error"]["message"]
    for call in (lambda: bob.get_kb("alice-kb"), lambda: bob.search("alice-kb", "年假"),
                 lambda: bob.search(["bob-kb", "alice-kb"], "年假"), lambda: bob.ask("alice-kb", "年假几天？"),
                 lambda: bob.list_files("alice-kb"), lambda: bob.download("alice-kb", file_id),
                 lambda: bob.upload("alice-kb", [("x.md", b"# x\n\nhello\n")]),
                 lambda: bob.delete_kb("alice-kb"), lambda: bob.get_job(job.id), lambda: bob.cancel_job(job.id)):
        with pytest.raises(NotFound) as e:
            call()
        assert "does not exist" in str(e.value)
    hidden = srv.raw(srv.key("bob")).get("/api/kbs/alice-kb").json()["error"]["message"]
    assert hidden == missing.replace("no-such-kb", "alice-kb")
    assert [j.id for j in bob.list_jobs()] == [] and [j.id for j in alice.list_jobs()] == [job.id]
    assert job.id in [j.id for j in root.list_jobs()]

    # the OpenAI-compatible face follows the same rules
    models = [m["id"] for m in srv.raw(srv.key("bob")).get("/v1/models").json()["data"]]
    assert "kb:bob-kb" in models and "kb:alice-kb" not in models
    chat = srv.raw(srv.key("bob")).post("/v1/chat/completions", json={
        "model": "kb:alice-kb", "messages": [{"role": "user", "content": "年假几天？"}]})
    assert_error(chat, 404, "not_found")
    ok = srv.raw(srv.key("alice")).post("/v1/chat/completions", json={
        "model": "kb:alice-kb", "messages": [{"role": "user", "content": "年假几天？"}]})
    assert ok.status_code == 200 and ok.json()["citations"]

    # a KB made with no owner (CLI, open server) is for admins only
    srv.zk.create_kb("unowned")
    assert "unowned" not in [k.name for k in alice.list_kbs()]
    assert "unowned" in [k.name for k in root.list_kbs()]


def test_grants_give_read_then_write_and_can_be_taken_back(srv: Server) -> None:
    alice, bob = srv.client(srv.key("alice", ("read", "write", "admin"))), srv.client(srv.key("bob"))
    alice.create_kb("shared")
    assert [(g.user, g.access) for g in alice.list_grants("shared")] == [("alice", "owner")]

    grants = alice.grant_kb("shared", "bob", "read")
    assert [(g.user, g.access) for g in grants] == [("alice", "owner"), ("bob", "read")]
    assert [k.name for k in bob.list_kbs()] == ["shared"]
    assert bob.search("shared", "年假") == []
    with pytest.raises(Forbidden, match="read access"):  # bob knows it exists now: 403, not 404
        bob.upload("shared", [("a.md", ZH.encode())])
    with pytest.raises(Forbidden):
        bob.grant_kb("shared", "bob", "write")  # only the owner (or an admin) grants

    alice.grant_kb("shared", "bob", "write")
    job = bob.wait_for_job(bob.upload("shared", [("a.md", ZH.encode())]).id, timeout=60)
    assert job.status == "done" and job.files_failed == 0
    assert bob.get_job(job.id).id == job.id
    with pytest.raises(Forbidden, match="ownership"):
        bob.delete_kb("shared")  # writers change content, owners the KB itself

    alice.revoke_kb("shared", "bob")
    with pytest.raises(NotFound):
        bob.search("shared", "年假")
    assert bob.list_kbs() == []
    with pytest.raises(NotFound, match="no access"):
        alice.revoke_kb("shared", "bob")
    with pytest.raises(NotFound, match="user 'carol'"):
        alice.grant_kb("shared", "carol", "read")

    # an admin grants on any KB, and may hand ownership over
    root = srv.client(srv.key("root", ("read", "write", "admin")))
    root.grant_kb("shared", "bob", "owner")
    assert {(g.user, g.access) for g in root.list_grants("shared")} == {("bob", "owner"), ("alice", "write")}
    bob.delete_kb("shared")
    assert root.list_kbs() == []


def test_revoked_expired_and_disabled_keys_get_401(srv: Server) -> None:
    secret = srv.key("alice")
    raw = srv.raw(secret)
    assert raw.get("/api/kbs").status_code == 200
    key = srv.zk.auth.list_keys("alice")[0]
    srv.zk.auth.revoke_key(key.id)
    err = assert_error(raw.get("/api/kbs"), 401, "unauthorized")
    assert "revoked" in err["message"] and raw.get("/api/kbs").headers["www-authenticate"] == "Bearer"

    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    expired = srv.zk.auth.create_key("alice", "old", ["read"], expires_at=past)[1]
    assert_error(srv.raw(expired).get("/api/kbs"), 401, "unauthorized")
    soon = srv.key("alice", ("read",), expires_days=1)
    assert srv.raw(soon).get("/api/kbs").status_code == 200

    # a disabled user's keys stop working; enabled again, they work again
    srv.zk.auth.update_user("alice", disabled=True)
    assert_error(srv.raw(soon).get("/api/kbs"), 401)
    srv.zk.auth.update_user("alice", disabled=False)
    assert srv.raw(soon).get("/api/kbs").status_code == 200
    # the key's last use is recorded
    assert [k.last_used_at is not None for k in srv.zk.auth.list_keys("alice") if k.prefix == soon[:10]] == [True]


def test_login_me_and_logout_over_a_real_server(srv: Server) -> None:
    server = LiveServer(srv.zk)
    try:
        with ZhikuClient(server.url) as c:
            with pytest.raises(Unauthorized, match="wrong user name or password"):
                c.login("alice", "wrong password")
            with pytest.raises(Unauthorized, match="wrong user name or password"):
                c.login("nobody", PASSWORD)
            result = c.login("alice", PASSWORD)
            assert result.token.startswith("zk-") and result.user.name == "alice" and result.key.kind == "session"
            assert result.expires_at is not None
            hours = (result.expires_at - datetime.now(timezone.utc)).total_seconds() / 3600
            assert 23.9 < hours <= 24  # auth.session_ttl_hours
            me = c.me()
            assert me.auth_enabled and me.user.name == "alice" and me.user.role == "user"
            assert me.key is not None and me.key.id == result.key.id and me.scopes == ["read", "write", "admin"]
            c.create_kb("mine")
            token = result.token
            c.logout()
            with pytest.raises(Unauthorized):
                c.list_kbs()
        with ZhikuClient(server.url, api_key=token) as stale:
            with pytest.raises(Unauthorized):
                stale.me()
        r = httpx.get(server.url + "/api/kbs")
        assert_error(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
        # disabled users cannot log in
        srv.zk.auth.update_user("bob", disabled=True)
        with ZhikuClient(server.url) as c, pytest.raises(Unauthorized):
            c.login("bob", PASSWORD)
    finally:
        server.stop()


def test_repeated_wrong_passwords_pause_logins_for_that_name(srv: Server) -> None:
    raw = srv.raw()
    for _ in range(5):
        assert_error(raw.post("/api/auth/login", json={"username": "alice", "password": "guess"}), 401)
    err = assert_error(raw.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}), 429,
                       "rate_limited")
    assert "too many failed logins for 'alice'" in err["message"] and err["details"]["retry_after"] > 0
    # other names are not affected, and API keys keep working
    assert raw.post("/api/auth/login", json={"username": "bob", "password": PASSWORD}).status_code == 200
    assert srv.raw(srv.key("alice")).get("/api/kbs").status_code == 200


def test_password_change_ends_web_logins(srv: Server) -> None:
    c = srv.client()
    c.login("alice", PASSWORD)
    other = srv.client()
    other.login("alice", PASSWORD)
    with pytest.raises(Unauthorized):
        c.change_password("not the old one", "a new password")
    c.change_password(PASSWORD, "a new password")
    with pytest.raises(Unauthorized):
        other.me()
    assert srv.client().login("alice", "a new password").user.name == "alice"


def test_admins_manage_users_and_keys(srv: Server) -> None:
    root = srv.client(srv.key("root", ("read", "write", "admin")))
    alice = srv.client(srv.key("alice", ("read", "write", "admin")))
    user = root.create_user("carol", "carol's password")
    assert user.role == "user" and not user.disabled
    assert [u.name for u in root.list_users()] == ["root", "alice", "bob", "carol"]
    with pytest.raises(Conflict):
        root.create_user("carol", "another password")
    raw = srv.raw(srv.key("root", ("admin",)))
    assert_error(raw.post("/api/auth/users", json={"name": "dave", "password": "short"}), 400, "invalid_input")
    assert_error(raw.post("/api/auth/users", json={"name": "bad name", "password": "long enough"}), 400)
    with pytest.raises(Forbidden):
        alice.create_user("eve", "eve's password")
    with pytest.raises(Forbidden):
        alice.get_user("bob")
    assert alice.get_user("alice").name == "alice"

    # keys: your own by default; admins see and revoke anyone's
    carol_key = root.create_key("for carol", ["read"], user="carol")
    assert carol_key.key.user == "carol"
    assert srv.client(carol_key.secret).list_kbs() == []
    assert all(k.user == "alice" for k in alice.list_keys())
    with pytest.raises(Forbidden):
        alice.list_keys(all_users=True)
    with pytest.raises(NotFound):
        alice.revoke_key(carol_key.key.id)  # not hers: as if it did not exist
    assert carol_key.key.id in [k.id for k in root.list_keys(all_users=True)]
    root.revoke_key(carol_key.key.id)
    with pytest.raises(Unauthorized):
        srv.client(carol_key.secret).list_kbs()
    assert carol_key.key.id in [k.id for k in root.list_keys("carol", revoked=True)]
    assert carol_key.key.id not in [k.id for k in root.list_keys("carol")]

    # roles and the last admin
    with pytest.raises(Conflict, match="last active admin"):
        root.update_user("root", disabled=True)
    with pytest.raises(Conflict, match="last active admin"):
        root.update_user("root", role="user")
    assert root.update_user("alice", role="admin").role == "admin"
    assert {k.name for k in alice.list_kbs()} == set()  # admins see every KB (there are none yet)
    root.create_kb("r")
    assert [k.name for k in alice.list_kbs()] == ["r"]
    assert root.update_user("root", disabled=True).disabled
    with pytest.raises(Unauthorized):
        root.me()
    srv.raw(srv.key("alice", ("admin",))).patch("/api/auth/users/bob", json={"password": "bob's new password"})
    assert srv.client().login("bob", "bob's new password").user.name == "bob"


@pytest.mark.anyio
async def test_the_async_client_logs_in_manages_keys_and_grants(srv: Server) -> None:
    async with AsyncZhikuClient("http://zhiku.test", transport=httpx.ASGITransport(app=srv.app)) as c:
        with pytest.raises(Unauthorized):
            await c.list_kbs()
        result = await c.login("alice", PASSWORD)
        assert (await c.me()).user.name == "alice"
        await c.create_kb("async-kb")
        new = await c.create_key("script", ["read"])
        assert [k.id for k in await c.list_keys()] == [result.key.id, new.key.id]
        await c.grant_kb("async-kb", "bob", "read")
        assert [g.user for g in await c.list_grants("async-kb")] == ["alice", "bob"]
        await c.revoke_kb("async-kb", "bob")
        await c.revoke_key(new.key.id)
        await c.logout()
        with pytest.raises(Unauthorized):
            await c.me()


class _From(SyncASGITransport):
    """Requests as sent from the client address ``host``."""

    def __init__(self, app: Any, host: str) -> None:
        super().__init__(app)
        self._transport = httpx.ASGITransport(app=app, client=(host, 50000))


def _raw_from(srv: Server, host: str) -> httpx.Client:
    transport = _From(srv.app, host)
    c = httpx.Client(base_url="http://zhiku.test", transport=transport)
    srv._clients.append(c)
    srv._clients.append(transport)
    return c


def _login(c: httpx.Client, name: str, password: str, device: str | None = None) -> httpx.Response:
    headers = {"X-Zhiku-Device": device} if device else {}
    return c.post("/api/auth/login", json={"username": name, "password": password}, headers=headers)


def test_a_known_client_logs_in_while_wrong_passwords_elsewhere_pause_the_name(srv: Server) -> None:
    """Issue 20, item 8: five wrong passwords from anywhere locked alice out for everyone."""
    home, attacker = _raw_from(srv, "198.51.100.7"), _raw_from(srv, "203.0.113.9")
    first = _login(home, "alice", PASSWORD)
    assert first.status_code == 200
    device = first.headers["X-Zhiku-Device"]
    for _ in range(5):
        assert_error(_login(attacker, "alice", "guess"), 401)
    assert_error(_login(attacker, "alice", PASSWORD), 429, "rate_limited")
    assert_error(_login(home, "alice", PASSWORD), 429, "rate_limited")  # without its token: unknown
    again = _login(home, "alice", PASSWORD, device)
    assert again.status_code == 200 and again.headers["X-Zhiku-Device"] == device
    assert_error(_login(attacker, "alice", PASSWORD, "made-up-token"), 429, "rate_limited")
    # a token is tied to its user: alice's does not open bob's paused name
    for _ in range(5):
        assert_error(_login(attacker, "bob", "guess"), 401)
    assert_error(_login(home, "bob", PASSWORD, device), 429, "rate_limited")


def test_one_address_trying_many_names_pauses_that_address_only(srv: Server) -> None:
    sprayer, other = _raw_from(srv, "203.0.113.50"), _raw_from(srv, "198.51.100.20")
    for i in range(20):
        assert_error(_login(sprayer, f"user{i}", "guess"), 401)
    err = assert_error(_login(sprayer, "bob", PASSWORD), 429, "rate_limited")
    assert "from this address" in err["message"]
    assert _login(other, "bob", PASSWORD).status_code == 200


def test_logout_ends_a_web_login_but_never_revokes_an_api_key(srv: Server) -> None:
    """Issue 20, item 8: logging out with a long-lived key revoked it."""
    key = srv.key("alice")
    err = assert_error(srv.raw(key).post("/api/auth/logout"), 400)
    assert "does not revoke API keys" in err["message"]
    assert srv.raw(key).get("/api/kbs").status_code == 200
    session = srv.raw().post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).json()["token"]
    assert srv.raw(session).post("/api/auth/logout").status_code == 204
    assert srv.raw(session).get("/api/kbs").status_code == 401
    assert srv.raw(key).get("/api/kbs").status_code == 200


def test_conversations_of_the_open_server_go_to_the_first_user(zk: Zhiku) -> None:
    """Issue 20, item 8: conversations made while the server was open became unreachable once auth
    was on. They belong to the first user created (who turned auth on); later users do not see them."""
    open_server = Server(zk)
    try:
        made = open_server.raw().post("/api/conversations", json={"mode": "llm", "title": "before auth"})
        assert made.status_code == 201, made.text
        conv_id = made.json()["id"]
        zk.auth.create_user("root", PASSWORD, "admin")
        zk.auth.create_user("alice", PASSWORD)
        root, alice = open_server.raw(open_server.key("root")), open_server.raw(open_server.key("alice"))
        assert [c["id"] for c in root.get("/api/conversations").json()] == [conv_id]
        assert root.get(f"/api/conversations/{conv_id}").json()["title"] == "before auth"
        assert alice.get("/api/conversations").json() == []
        assert_error(alice.get(f"/api/conversations/{conv_id}"), 404)
    finally:
        open_server.close()
