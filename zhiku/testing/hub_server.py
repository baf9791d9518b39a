"""A stand-in model hub for multi-file pulls: serves a folder's files at
``/<repo>/resolve/main/<path>`` as Hugging Face and its mirrors do, with Range requests, each
file's sha256 advertised in ``X-Linked-Etag`` (as the hub does for LFS files), and faults on
one file: ``drop_after`` bytes (an interrupted download) or ``corrupt`` (one byte flipped)."""

from __future__ import annotations

import hashlib
import socket
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from zhiku.testing.http import BackgroundHTTPServer


class HubServer(BackgroundHTTPServer):
    def __init__(self, folder: Path, repo: str, fault_file: str | None = None, drop_after: int | None = None,
                 corrupt: bool = False, advertise: bool = True) -> None:
        self.folder, self.repo = Path(folder), repo.strip("/")
        self.fault_file, self.drop_after, self.corrupt = fault_file, drop_after, corrupt
        self.requests: list[tuple[str, str | None]] = []  # (file, Range header)
        self.hashes = {str(p.relative_to(self.folder)): hashlib.sha256(p.read_bytes()).hexdigest()
                       for p in self.folder.rglob("*") if p.is_file()} if advertise else {}
        outer = self
        prefix = f"/{self.repo}/resolve/main/"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _empty(self, code: int, **headers: str) -> None:
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k.replace("_", "-"), v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:  # noqa: N802
                name = self.path[len(prefix):] if self.path.startswith(prefix) else ""
                path = (outer.folder / name).resolve()
                if not name or outer.folder.resolve() not in path.parents or not path.is_file():
                    return self._empty(404)
                rng = self.headers.get("Range")
                outer.requests.append((name, rng))
                data = path.read_bytes()
                if name == outer.fault_file and outer.corrupt:
                    flipped = bytearray(data)
                    flipped[len(data) // 2] ^= 0xFF
                    data = bytes(flipped)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                if start >= len(data):
                    return self._empty(416, Content_Range=f"bytes */{len(data)}")
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                if name in outer.hashes:
                    self.send_header("X-Linked-Etag", f'"{outer.hashes[name]}"')
                self.end_headers()
                body = data[start:]
                if name == outer.fault_file and outer.drop_after is not None:
                    body, outer.drop_after = body[: outer.drop_after], None  # once
                    try:
                        self.wfile.write(body)
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    return

        super().__init__(Handler)

    @property
    def base(self) -> str:
        """The mirror URL to pull from (``--mirror``)."""
        return f"http://127.0.0.1:{self.port}"
