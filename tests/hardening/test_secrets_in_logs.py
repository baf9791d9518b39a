"""Secrets are never logged (issue 20's permanent list): `zhiku start` runs in its own process with
every log at DEBUG (and once at INFO, where uvicorn's access log is on), and is given every kind of
secret a server sees: users' passwords (created, logged in with, a wrong one, changed), API keys
(created by the admin and over HTTP, a forged one), a web login's session token, a model server's
API key (added over HTTP and used for an answer). Everything the process wrote, standard output and
error, must hold none of them. Keys go in the Authorization header only: a key a client puts in a
URL's query (``?key=``, ``?api_key=``, ``?token=``...) is refused, and the access log shows that URL
with the value replaced (zhiku.api.access_log)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from zhiku import Zhiku, load_settings
from zhiku.testing.llm_servers import ChatServer

pytestmark = pytest.mark.slow

ROOT_PW, PAT_PW, NEW_PW, WRONG_PW, NEWUSER_PW = (
    "root-Passw0rd-5b1c", "pat-Passw0rd-9e2d", "pat-NewPassw0rd-44aa", "wrong-Passw0rd-0f0f", "new-user-Pw-7c7c")
MODEL_KEY = "sk-model-server-secret-3141592653"
FORGED = "zk-forged-key-that-does-not-exist-271828"
# what clients put in URLs' query strings (zhiku takes keys in the Authorization header only)
QUERY_SECRETS = {"key": "zk-query-key-secret-1618033988", "api_key": "query-api-key-secret-1414213562",
                 "token": "query-token-secret-2236067977", "access_token": "query-access-token-secret-1732050807",
                 "X-Api-Key": "query-header-style-secret-0577215664"}
# `zhiku start` with the root logger at DEBUG (the CLI's own basicConfig then changes nothing): every
# library's debug log too (httpx, httpcore, uvicorn, sqlalchemy's warnings...)
RUN_AT_DEBUG = "import logging, sys; logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(name)s: %(message)s'); from zhiku.cli import main; sys.exit(main(sys.argv[1:]))"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_and_use(home: Path, level: str, llm: ChatServer, log: Path) -> list[str]:
    """Start `zhiku start` at ``level``, send it every secret; the secrets it handed out."""
    port = _port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}, "ZHIKU_LOG_LEVEL": level,
           "ZHIKU_EMBEDDING__DEFAULT": "static", "ZHIKU_LLM__DETECT_LOCAL": "false"}
    # DEBUG: every logger at DEBUG; INFO: `zhiku -v start`, which turns uvicorn's access log on
    command = [sys.executable, "-c", RUN_AT_DEBUG] if level == "DEBUG" else [sys.executable, "-m", "zhiku", "-v"]
    with log.open("w") as out:
        proc = subprocess.Popen([*command, "--home", str(home), "start", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    handed: list[str] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if c.get("/api/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            admin_key = _admin_key(home)
            handed.append(admin_key)
            admin = {"Authorization": f"Bearer {admin_key}"}
            assert c.post("/api/auth/login", json={"username": "pat", "password": WRONG_PW}).status_code == 401
            login = c.post("/api/auth/login", json={"username": "pat", "password": PAT_PW})
            assert login.status_code == 200, login.text
            token = login.json()["token"] if "token" in login.json() else login.json()["key"]
            handed.append(token)
            pat = {"Authorization": f"Bearer {token}"}
            assert c.get("/api/auth/me", headers=pat).status_code == 200
            assert c.get("/api/auth/me", headers={"Authorization": f"Bearer {FORGED}"}).status_code == 401
            made = c.post("/api/auth/keys", headers=admin, json={"name": "ci", "scopes": ["read"]})
            assert made.status_code == 201, made.text
            handed += [v for k, v in made.json().items() if isinstance(v, str) and v.startswith("zk-")]
            assert c.post("/api/auth/users", headers=admin, json={"name": "newbie", "password": NEWUSER_PW}
                          ).status_code == 201
            changed = c.post("/api/auth/password", headers=pat, json={"old_password": PAT_PW, "new_password": NEW_PW})
            assert changed.status_code in (200, 204), changed.text
            put = c.put("/api/settings/models/local", headers=admin,
                        json={"base_url": llm.base_url, "model": "ok", "api_key": MODEL_KEY})
            assert put.status_code == 200, put.text
            answer = c.post("/v1/chat/completions", headers=admin,
                            json={"model": "local", "messages": [{"role": "user", "content": "hello"}]})
            assert answer.status_code == 200 and "Hello from the test server" in answer.text, answer.text
            for name, secret in QUERY_SECRETS.items():  # a key in the URL is refused, and not logged either
                assert c.get(f"/api/kbs?{name}={secret}&limit=5").status_code == 401
            assert c.get(f"/api/auth/me?x=1&token={token}").status_code == 401  # a real key, where keys don't go
            c.post("/api/auth/logout", headers=pat)
            assert c.get("/api/auth/me", headers=pat).status_code == 401
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    return handed


def _admin_key(home: Path) -> str:
    with Zhiku(load_settings(home=home, environ={})) as zk:
        return zk.auth.create_key("root", "ops", ("read", "write", "admin"))[1]


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_no_secret_reaches_the_logs(tmp_path: Path, level: str) -> None:
    home = tmp_path / "home"
    with Zhiku(load_settings(home=home, environ={}, overrides={"embedding": {"default": "static"}})) as zk:
        zk.auth.create_user("root", ROOT_PW, "admin")
        zk.auth.create_user("pat", PAT_PW, "user")
    log = tmp_path / f"server-{level}.log"
    with ChatServer() as llm:
        handed = _serve_and_use(home, level, llm, log)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert len(text.splitlines()) > 3, text  # it did log (a server that logs nothing proves nothing)
    if level == "DEBUG":
        assert "DEBUG" in text, text[:2000]
    else:
        assert "/api/auth/login" in text, text[:2000]  # the access log was on
        assert "/api/kbs?api_key=[redacted]&limit=5" in text, text[:4000]  # logged, without the secret
    secrets = [ROOT_PW, PAT_PW, NEW_PW, WRONG_PW, NEWUSER_PW, MODEL_KEY, FORGED, *QUERY_SECRETS.values(), *handed]
    assert len(handed) >= 3
    found = [s[:12] + "…" for s in secrets if s in text or s[len("zk-"):] in text]
    assert found == [], f"secrets in the {level} log: {found}"
