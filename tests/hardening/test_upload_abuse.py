"""Upload abuse over a real uvicorn on 127.0.0.1 (issue 20, the permanent suite's "upload abuse"): many
form fields, a huge non-file field, a Content-Length that lies either way, a huge file name, a client
that stops half-way. Each is refused with a 4xx and the reason (or, for a body cut short, dropped),
nothing is left in the uploads folder, and the health endpoint answers all along. Limits of these
tests: 1 MB per file, 2 MB per upload."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
from zhiku.testing.live_server import LiveServer

BOUNDARY = "abuseboundary0123456789"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Zhiku, LiveServer, httpx.Client]]:
    zk = Zhiku(load_settings(home=tmp_path / "home", environ={}, overrides={
        "embedding": {"default": "static"}, "ingest": {"max_file_mb": 1}, "server": {"max_upload_mb": 2}}))
    zk.create_kb("kb")
    server = LiveServer(create_app(zk), bind("127.0.0.1", 0), KEEP_ALIVE_S)
    client = httpx.Client(base_url=server.url, timeout=60)
    try:
        yield zk, server, client
    finally:
        client.close()
        server.stop()
        zk.close()


def _nothing_left(zk: Zhiku) -> bool:
    root = zk.settings.home / "uploads"
    return not root.exists() or not any(p.is_file() for p in root.rglob("*"))


def _healthy(client: httpx.Client) -> bool:
    return client.get("/api/health").status_code == 200


def _multipart(fields: list[tuple[str, str]], files: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, value in fields:
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for filename, data in files:
        out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
                "Content-Type: text/plain\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _post(client: httpx.Client, body: bytes, **headers: str) -> httpx.Response:
    return client.post("/api/kbs/kb/files", content=body,
                       headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}", **headers})


def test_many_form_fields(served: tuple[Zhiku, LiveServer, httpx.Client]) -> None:
    zk, _, client = served
    body = _multipart([(f"f{i}", "x") for i in range(20_000)], [("a.md", b"# a\n\nhello\n")])
    r = _post(client, body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["message"]
    assert _nothing_left(zk) and _healthy(client)


def test_a_huge_non_file_field(served: tuple[Zhiku, LiveServer, httpx.Client]) -> None:
    zk, _, client = served
    r = _post(client, _multipart([("note", "x" * (3 << 20))], [("a.md", b"# a\n\nhello\n")]))
    assert r.status_code in (400, 413), r.text
    assert _nothing_left(zk) and _healthy(client)


def test_a_huge_file_name(served: tuple[Zhiku, LiveServer, httpx.Client]) -> None:
    zk, _, client = served
    r = _post(client, _multipart([], [("n" * 100_000 + ".md", b"# a\n\nhello\n")]))
    assert r.status_code == 400 and r.json()["error"]["message"], r.text
    assert _nothing_left(zk) and _healthy(client)


def test_a_content_length_shorter_than_the_body(served: tuple[Zhiku, LiveServer, httpx.Client]) -> None:
    """The server reads what was declared: the form is cut short, malformed, refused."""
    zk, server, client = served
    body = _multipart([], [("a.md", b"# a\n\n" + b"hello " * 50_000)])
    host, port = server.sock.getsockname()[:2]
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall((f"POST /api/kbs/kb/files HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 1000\r\n"
                   f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nConnection: close\r\n\r\n").encode()
                  + body[:1000])  # the rest of the file never counts: the server stops at the declared length
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert _nothing_left(zk) and _healthy(client)
    assert zk.catalog.list_files(zk.kb("kb").id) == []


def test_a_client_that_stops_half_way(served: tuple[Zhiku, LiveServer, httpx.Client]) -> None:
    """A body declared longer than sent: health answers while the upload hangs, and once the client
    goes nothing of it is kept."""
    zk, server, client = served
    body = _multipart([], [("a.md", b"# a\n\n" + b"hello " * 100_000)])
    host, port = server.sock.getsockname()[:2]
    with socket.create_connection((host, port), timeout=60) as s:
        s.sendall((f"POST /api/kbs/kb/files HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(body)}\r\n"
                   f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n").encode() + body[: len(body) // 2])
        assert _healthy(client)  # meanwhile
    # the server notices the closed connection at its next read, then drops what it staged: its request
    # ends (an empty uploads folder before then may only mean the part was not staged yet)
    requests = server.server.server_state.tasks
    deadline = time.monotonic() + 30
    while requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not requests, "the cut-off upload's request did not end"
    assert _nothing_left(zk) and _healthy(client)
    assert zk.catalog.list_files(zk.kb("kb").id) == []
