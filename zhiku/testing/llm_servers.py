"""A local HTTP server speaking the OpenAI chat-completions protocol (``/v1/chat/completions``
with SSE streaming, ``/v1/models``), well-behaved or misbehaving on purpose.

The model name of a request picks the behaviour:

    ok          streams the scripted reply (``reply=`` or a function of the request), then [DONE]
    hang        reads the request and never answers
    stall       sends two chunks, then goes silent forever
    endless     sends a chunk every 0.1 s forever
    trickle     sends one byte every 0.1 s forever, never a whole event
    truncated   sends two chunks and half an event, then drops the connection
    early-end   sends two chunks and ends the stream cleanly without a finish reason or [DONE]
    429         Too Many Requests with Retry-After
    500         an internal server error
    context     400 "maximum context length exceeded"
    garbage     200 with an SSE event that is not JSON

Run it in another process for leak checks: ``python -m zhiku.testing.llm_servers`` prints
its port on the first line and serves until killed.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

from zhiku.testing.http import BackgroundHTTPServer, StandInHandler

Reply = str | Callable[[dict[str, Any]], str]


def _chunk(model: str, text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": text} if text is not None else {}
    return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class ChatServer(BackgroundHTTPServer):
    def __init__(self, reply: Reply = "Hello from the test server [1].", models: tuple[str, ...] = ("ok",),
                 port: int = 0, interval: float = 0.0, piece: int = 4) -> None:
        """``interval``: seconds between streamed pieces of ``piece`` characters (a model that
        streams at a fixed rate, for benchmarks); 0 streams as fast as the socket takes it."""
        self.reply = reply
        self.interval = interval
        self.piece = piece
        self.models = models
        self.requests: list[dict[str, Any]] = []
        self._stop = threading.Event()
        outer = self

        class Handler(StandInHandler):
            def _wait_forever(self) -> None:
                while not outer._stop.wait(0.05):
                    pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/v1/models":
                    return self._models(outer.models)
                self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": "not found"}})
                body = self._read_json()
                outer.requests.append(body)
                model = body.get("model", "")
                try:
                    self._serve(model, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _serve(self, model: str, body: dict[str, Any]) -> None:
                if model == "hang":
                    return self._wait_forever()
                if model == "429":
                    return self._json(429, {"error": {"message": "rate limit reached", "type": "rate_limit"}},
                                      {"Retry-After": "3"})
                if model == "500":
                    return self._json(500, {"error": {"message": "the model crashed", "type": "server_error"}})
                if model == "context":
                    return self._json(400, {"error": {
                        "message": "This model's maximum context length is 4096 tokens", "type": "invalid_request"}})
                if model not in outer.models and model not in BEHAVIOURS:
                    return self._json(404, {"error": {"message": f"model {model} not found"}})
                self._start_stream()
                if model == "garbage":
                    self._event("{not json")
                    return self._end()
                if model == "trickle":
                    while not outer._stop.wait(0.1):
                        self._raw(b"d")
                    return
                text = outer.reply(body) if callable(outer.reply) else outer.reply
                step = outer.piece
                pieces = [text[i:i + step] for i in range(0, len(text), step)] or [""]
                if model in ("stall", "truncated", "early-end"):
                    pieces = pieces[:2]
                for n, p in enumerate(pieces):
                    if n and outer.interval:
                        time.sleep(outer.interval)
                    self._event(_chunk(model, p))
                if model == "stall":
                    return self._wait_forever()
                if model == "endless":
                    while not outer._stop.wait(0.1):
                        self._event(_chunk(model, " more"))
                    return
                if model == "truncated":
                    self._raw(b'data: {"id": "chatcmpl-test", "choi')
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if model == "early-end":
                    return self._end()
                self._event(_chunk(model, finish="stop"))
                if body.get("stream_options", {}).get("include_usage"):
                    self._event({"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": model,
                                 "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": len(pieces),
                                                          "total_tokens": 11 + len(pieces)}})
                self._event("[DONE]")
                self._end()

        super().__init__(Handler, port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # release handlers that hang or stream forever
        super().__exit__(*exc)


BEHAVIOURS = ("ok", "hang", "stall", "endless", "trickle", "truncated", "early-end", "429", "500", "context",
              "garbage")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:  # pragma: no cover - run as a subprocess by tests
    server = ChatServer(models=BEHAVIOURS)
    with server:
        print(server.port, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()


class FileServer(BackgroundHTTPServer):
    """Serves one file at ``/<name>`` with HTTP Range support, as a model hub does.

    ``drop_after``: the first ``drops`` responses stop after that many bytes (an interrupted
    download); ``corrupt``: one byte in the middle is served flipped; ``sha256``: advertised
    in ``X-Linked-Etag`` like Hugging Face does for LFS files; ``at``: serve it at this URL path
    instead (e.g. a hub's ``/<repo>/resolve/main/<file>``); ``pause_at``: responses stop sending at that
    byte of the file (``paused`` is set) until ``go`` is set (a slow link, held still for a test)."""

    def __init__(self, path: "str | Any", drop_after: int | None = None, drops: int = 1, corrupt: bool = False,
                 sha256: str | None = None, at: str | None = None, pause_at: int | None = None) -> None:
        from pathlib import Path

        self.pause_at, self.paused, self.go = pause_at, threading.Event(), threading.Event()

        self.path = Path(path)
        self.at = (at or self.path.name).lstrip("/")
        self.size = self.path.stat().st_size
        self.drop_after, self.drops, self.corrupt, self.sha256 = drop_after, drops, corrupt, sha256
        self.ranges: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path.lstrip("/") != outer.at:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                if start >= outer.size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{outer.size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{outer.size - 1}/{outer.size}")
                self.send_header("Content-Length", str(outer.size - start))
                self.send_header("Accept-Ranges", "bytes")
                if outer.sha256:
                    self.send_header("X-Linked-Etag", f'"{outer.sha256}"')
                self.end_headers()
                limit = None
                if outer.drop_after is not None and outer.drops > 0:
                    outer.drops -= 1
                    limit = outer.drop_after
                middle = outer.size // 2
                sent = 0
                with outer.path.open("rb") as f:
                    f.seek(start)
                    pos = start
                    while True:
                        block = f.read(1 << 16)
                        if not block:
                            break
                        if outer.corrupt and pos <= middle < pos + len(block):
                            b = bytearray(block)
                            b[middle - pos] ^= 0xFF
                            block = bytes(b)
                        if limit is not None and sent + len(block) > limit:
                            block = block[: limit - sent]
                        if outer.pause_at is not None and pos <= outer.pause_at < pos + len(block) \
                                and not outer.go.is_set():
                            head, block = block[: outer.pause_at - pos], block[outer.pause_at - pos:]
                            try:
                                self.wfile.write(head)
                                self.wfile.flush()
                            except (BrokenPipeError, ConnectionResetError):
                                return
                            sent, pos = sent + len(head), pos + len(head)
                            outer.paused.set()
                            outer.go.wait(120)
                        try:
                            self.wfile.write(block)
                        except (BrokenPipeError, ConnectionResetError):
                            return
                        sent += len(block)
                        pos += len(block)
                        if limit is not None and sent >= limit:
                            self.wfile.flush()
                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return

        super().__init__(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.at}"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"
