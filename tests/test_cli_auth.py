"""`zhiku user`, `zhiku key`, `zhiku kb grant/revoke/access`, and `zhiku start` refusing to serve
beyond loopback without authentication."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.test_server import _log, _start, _stop
from zhiku import Zhiku, load_settings
from zhiku.cli.commands_server import auth_refusal

PASSWORD = "correct horse battery"


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def _users(cli) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return json.loads(cli("user", "list", "--json").out)


def test_user_add_list_disable_and_passwd(cli, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:  # type: ignore[no-untyped-def]
    assert "no users" in cli("user", "list").out
    _stdin(monkeypatch, PASSWORD + "\n")
    r = cli("user", "add", "root", "--admin", "--password-stdin")
    assert r.code == 0 and "created user 'root' (admin)" in r.out
    assert "authentication is now on" in r.err and "zhiku key create --user root" in r.err
    _stdin(monkeypatch, PASSWORD + "\n")
    r = cli("user", "add", "alice", "--password-stdin")
    assert r.code == 0 and "(user)" in r.out and "authentication is now on" not in r.err
    assert [(u["name"], u["role"], u["disabled"]) for u in _users(cli)] == [
        ("root", "admin", False), ("alice", "user", False)]
    assert "alice" in cli("user", "list").out

    _stdin(monkeypatch, PASSWORD + "\n")
    r = cli("user", "add", "alice", "--password-stdin")
    assert r.code == 1 and r.err.strip() == "error: user 'alice' already exists"

    assert cli("user", "disable", "alice").code == 0
    assert [u["disabled"] for u in _users(cli)] == [False, True]
    r = cli("user", "disable", "root")
    assert r.code == 1 and "last active admin" in r.err and len(r.err.strip().splitlines()) == 1
    assert cli("user", "enable", "alice").code == 0
    assert cli("user", "role", "alice", "admin").code == 0
    assert cli("user", "disable", "root").code == 0  # alice is an admin now
    assert cli("user", "role", "alice", "boss").code == 1

    _stdin(monkeypatch, "a brand new password\n")
    assert cli("user", "passwd", "alice", "--password-stdin").code == 0
    with Zhiku(load_settings(home=home, environ={})) as zk:
        assert zk.auth.verify("alice", "a brand new password").name == "alice"
    r = cli("user", "passwd", "nobody", "--password-stdin")
    assert r.code == 1 and "user 'nobody' does not exist" in r.err


def test_user_add_needs_a_password_it_can_read(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _stdin(monkeypatch, "")  # not a terminal, and no --password-stdin
    r = cli("user", "add", "root", "--admin")
    assert r.code == 1 and "--password-stdin" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli("user", "add", "root", "--admin", "--password-stdin")
    assert r.code == 1 and "no password on standard input" in r.err
    _stdin(monkeypatch, "short\n")
    r = cli("user", "add", "root", "--admin", "--password-stdin")
    assert r.code == 1 and "at least 8 characters" in r.err
    _stdin(monkeypatch, PASSWORD + "\n")
    r = cli("user", "add", "bad/name", "--password-stdin")
    assert r.code == 1 and "invalid user name" in r.err
    assert _users(cli) == []  # nothing half-written


def test_key_create_list_revoke(cli, monkeypatch: pytest.MonkeyPatch, home: Path) -> None:  # type: ignore[no-untyped-def]
    _stdin(monkeypatch, PASSWORD + "\n")
    cli("user", "add", "alice", "--password-stdin")
    r = cli("key", "create", "--user", "alice", "--name", "laptop", "--scope", "read", "--expires-days", "30")
    assert r.code == 0, r.err
    secret = r.out.strip()
    assert r.out == secret + "\n" and secret.startswith("zk-")  # the secret alone on stdout
    assert "not shown again" in r.err and "scopes: read" in r.err
    with Zhiku(load_settings(home=home, environ={})) as zk:
        who = zk.auth.resolve(secret)
        assert who is not None and who.name == "alice" and who.scopes == {"read"}

    keys = json.loads(cli("key", "list", "--json").out)
    assert [(k["user"], k["name"], k["scopes"], k["prefix"]) for k in keys] == [
        ("alice", "laptop", ["read"], secret[:10])]
    assert secret not in cli("key", "list").out + cli("key", "list", "--json").out
    assert keys[0]["expires_at"] is not None

    r = cli("key", "create", "--user", "alice", "--scope", "sudo")
    assert r.code == 1 and "unknown scope 'sudo'" in r.err
    r = cli("key", "create", "--user", "nobody")
    assert r.code == 1 and "user 'nobody' does not exist" in r.err
    assert cli("key", "create").code == 2  # --user is required: usage error

    r = cli("key", "revoke", keys[0]["id"][:8])
    assert r.code == 0 and "revoked" in r.out
    with Zhiku(load_settings(home=home, environ={})) as zk:
        assert zk.auth.resolve(secret) is None
    assert json.loads(cli("key", "list", "--json").out) == []
    assert len(json.loads(cli("key", "list", "--revoked", "--json").out)) == 1
    r = cli("key", "revoke", "ffffffff")
    assert r.code == 1 and "does not exist" in r.err


def test_kb_grant_revoke_and_access(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    for name in ("alice", "bob"):
        _stdin(monkeypatch, PASSWORD + "\n")
        cli("user", "add", name, "--password-stdin")
    cli("kb", "create", "手册")
    r = cli("kb", "access", "手册")
    assert "no owner" in r.out and "only admins" in r.out
    assert cli("kb", "grant", "手册", "alice", "--access", "owner").code == 0
    r = cli("kb", "grant", "手册", "bob")
    assert r.code == 0 and "'bob' has read access to '手册'" in r.out
    grants = json.loads(cli("kb", "access", "手册", "--json").out)
    assert [(g["user"], g["access"]) for g in grants] == [("alice", "owner"), ("bob", "read")]
    r = cli("kb", "grant", "手册", "bob", "--access", "everything")
    assert r.code == 1 and "unknown access 'everything'" in r.err
    r = cli("kb", "grant", "nope", "bob")
    assert r.code == 1 and "knowledge base 'nope' does not exist" in r.err
    assert cli("kb", "revoke", "手册", "bob").code == 0
    assert [g["user"] for g in json.loads(cli("kb", "access", "手册", "--json").out)] == ["alice"]
    r = cli("kb", "revoke", "手册", "bob")
    assert r.code == 1 and "no access" in r.err


def _start_refused(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    env["ZHIKU_EMBEDDING__DEFAULT"] = "static"
    return subprocess.run([sys.executable, "-m", "zhiku", "--home", str(home), "start", *args],
                          env=env, capture_output=True, text=True, timeout=120)


def test_start_refuses_a_public_address_until_a_user_exists(home: Path) -> None:
    # hold the port ourselves: had `zhiku start` tried to bind, it would report a busy port instead
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        result = _start_refused(home, "--host", "0.0.0.0", "--port", port)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to listen on '0.0.0.0' without authentication")
    assert "zhiku user add --admin" in lines[0] and "Traceback" not in result.stderr

    with Zhiku(load_settings(home=home, environ={})) as zk:
        assert auth_refusal(zk.auth, "::") is not None
        assert auth_refusal(zk.auth, "127.0.0.1") is None  # loopback stays open for the single user
        zk.auth.create_user("root", PASSWORD, "admin")
        assert auth_refusal(zk.auth, "0.0.0.0") is None and auth_refusal(zk.auth, "::") is None
    with Zhiku(load_settings(home=home, overrides={"auth": {"enabled": False}}, environ={})) as zk:
        refusal = auth_refusal(zk.auth, "0.0.0.0")
        assert refusal is not None and "auth.enabled: false" in refusal
        assert auth_refusal(zk.auth, "127.0.0.1") is None


def test_start_refuses_auth_on_with_nobody_to_sign_in(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "config.yaml").write_text("auth:\n  enabled: true\n", encoding="utf-8")
    result = _start_refused(home, "--port", "0")
    assert result.returncode == 1
    assert "auth.enabled is true but there are no users" in result.stderr
    assert "zhiku user add --admin" in result.stderr


def test_cli_made_user_and_key_against_the_running_server(cli, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                          home: Path) -> None:
    _stdin(monkeypatch, PASSWORD + "\n")
    cli("user", "add", "root", "--admin", "--password-stdin")
    secret = cli("key", "create", "--user", "root").out.strip()
    proc, url = _start(home, "--no-ui")
    try:
        r = httpx.get(url + "/api/kbs")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", _log(home)
        assert httpx.get(url + "/api/health").status_code == 200
        ok = httpx.get(url + "/api/kbs", headers={"Authorization": f"Bearer {secret}"})
        assert ok.status_code == 200 and ok.json() == []
        login = httpx.post(url + "/api/auth/login", json={"username": "root", "password": PASSWORD})
        assert login.status_code == 200
        me = httpx.get(url + "/api/auth/me", headers={"Authorization": f"Bearer {login.json()['token']}"})
        assert me.json()["user"]["name"] == "root"
    finally:
        assert _stop(proc) == 0
