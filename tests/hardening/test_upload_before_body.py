"""Every multipart route refuses a caller who may not upload before it reads (let alone writes) the
file part (issue 20, item 8: upload_docs wrote a 100 MB part to disk before refusing the request).

Over a real uvicorn on 127.0.0.1: the client announces a 100 MB body, sends the form's first bytes
(its text fields, then the start of a file part) and waits for an answer. A server that waited for
the whole body never answers (the socket's timeout fails the test); the right one answers 401, 403
or 404 at once and the uploads folder stays empty."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Iterator

import pytest

from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
from zhiku.testing.live_server import LiveServer

PASSWORD = "correct horse battery"
BOUNDARY = "zhikuboundary7MA4YWxkTrZu0gW"
DECLARED = 100 * 1024 * 1024


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Zhiku, LiveServer]]:
    zk = Zhiku(load_settings(home=tmp_path / "home", overrides={"embedding": {"default": "static"}}, environ={}))
    zk.auth.create_user("alice", PASSWORD)
    zk.auth.create_user("bob", PASSWORD)
    zk.create_kb("手册")
    zk.auth.grant("手册", "alice", "write")
    server = LiveServer(create_app(zk), bind("127.0.0.1", 0), KEEP_ALIVE_S)
    try:
        yield zk, server
    finally:
        server.stop()
        zk.close()


def _first_bytes(fields: dict[str, str]) -> bytes:
    out = b""
    for name, value in fields.items():
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.md\"\r\n"
            "Content-Type: text/markdown\r\n\r\n").encode()
    return out + b"# big\n" + b"x" * 65536


def _answer_before_the_body(server: LiveServer, path: str, token: str | None, fields: dict[str, str]) -> tuple[int, dict]:
    host, port = server.sock.getsockname()[:2]
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {DECLARED}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n")
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall((head + "\r\n").encode() + _first_bytes(fields))
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1] or b"{}")


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def _uploads_empty(zk: Zhiku) -> bool:
    root = zk.settings.home / "uploads"
    return not root.exists() or not any(p.is_file() for p in root.rglob("*"))


def test_without_a_key(served: tuple[Zhiku, LiveServer]) -> None:
    zk, server = served
    for path in ("/knowledge_base/upload_docs", "/api/kbs/%E6%89%8B%E5%86%8C/files", "/api/chat/files"):
        status, _ = _answer_before_the_body(server, path, None, {"knowledge_base_name": "手册"})
        assert status == 401, path
    assert _uploads_empty(zk)


def test_a_read_only_key(served: tuple[Zhiku, LiveServer]) -> None:
    zk, server = served
    _, token = zk.auth.create_key("alice", "ro", ["read"])
    for path in ("/knowledge_base/upload_docs", "/api/kbs/%E6%89%8B%E5%86%8C/files", "/api/chat/files"):
        status, body = _answer_before_the_body(server, path, token, {"knowledge_base_name": "手册"})
        assert 403 in (status, body.get("code")), (path, body)
    assert _uploads_empty(zk)


def test_a_writer_without_access_to_the_kb(served: tuple[Zhiku, LiveServer]) -> None:
    zk, server = served
    _, token = zk.auth.create_key("bob", "rw", ["read", "write"])  # bob has no grant on 手册 (admin-made)
    for path in ("/knowledge_base/upload_docs", "/api/kbs/%E6%89%8B%E5%86%8C/files"):
        status, body = _answer_before_the_body(server, path, token, {"knowledge_base_name": "手册"})
        assert 404 in (status, body.get("code")), (path, body)  # Chatchat's routes: 200 with code 404
    assert _uploads_empty(zk)
