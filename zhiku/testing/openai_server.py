"""A real HTTP server on 127.0.0.1 speaking the OpenAI ``/v1/embeddings`` protocol,
backed by a real local embedder: the stand-in for Ollama/vLLM/Xinference in tests."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from zhiku.embed.base import Embedder
from zhiku.testing.http import BackgroundHTTPServer


class EmbeddingServer(BackgroundHTTPServer):
    def __init__(self, embedder: Embedder, model: str = "test-embed", api_key: str | None = None) -> None:
        self.embedder, self.model, self.api_key = embedder, model, api_key
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                if self.path != "/v1/embeddings":
                    return self._send(404, {"error": {"message": "not found"}})
                if outer.api_key and self.headers.get("Authorization") != f"Bearer {outer.api_key}":
                    return self._send(401, {"error": {"message": "bad key"}})
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                outer.requests.append(body)
                if body.get("model") != outer.model:
                    return self._send(404, {"error": {"message": f"model {body.get('model')} not found"}})
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                vecs = outer.embedder.embed_passages(texts)
                data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)]
                self._send(200, {"object": "list", "data": data[::-1], "model": outer.model,
                                 "usage": {"prompt_tokens": 0, "total_tokens": 0}})

        super().__init__(Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def picture_caption(data: bytes) -> str:
    """What the vision stand-in says of a picture: derived from its bytes, so a test can tell that
    the very picture arrived (``picture_caption(open(p, 'rb').read())``)."""
    import hashlib

    return f"diagram {hashlib.sha256(data).hexdigest()[:12]} of {len(data)} bytes"


class VisionServer(BackgroundHTTPServer):
    """An OpenAI-compatible ``/v1/chat/completions`` with image input (``image_url`` content parts
    with ``data:`` URLs): the stand-in for a vision model (Qwen-VL, LLaVA on Ollama or vLLM...).

    It decodes every picture of the request and answers ``picture_caption`` of each (joined by
    "; "), followed, when the request has a system message (a question, not a caption request), by
    the last text part it was asked (``asked: ...``); streamed or not. A request
    with no picture is answered "no picture received". ``fail_after`` pictures captioned, it answers
    500 (to test failures per picture); ``requests`` keeps every request body."""

    def __init__(self, model: str = "test-vision", fail_after: int | None = None) -> None:
        from zhiku.testing.http import StandInHandler

        self.model, self.fail_after = model, fail_after
        self.requests: list[dict[str, Any]] = []
        self.pictures_seen = 0
        outer = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                if self.path.rstrip("/") == "/v1/models":
                    return self._models([outer.model])
                self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                if self.path != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": "not found"}})
                body = self._read_json()
                outer.requests.append(body)
                pictures, asked = outer.read(body.get("messages") or [])
                if outer.fail_after is not None and outer.pictures_seen + len(pictures) > outer.fail_after:
                    return self._json(500, {"error": {"message": "the vision stand-in fails on purpose"}})
                outer.pictures_seen += len(pictures)
                text = "; ".join(picture_caption(p) for p in pictures) or "no picture received"
                if asked and any(m.get("role") == "system" for m in body.get("messages") or []):
                    text += f" (asked: {asked})"  # a question (a caption request comes without instructions)
                if not body.get("stream"):
                    return self._json(200, {
                        "id": "chatcmpl-vision", "object": "chat.completion", "created": 0, "model": outer.model,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                     "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
                self._start_stream()
                base = {"id": "chatcmpl-vision", "object": "chat.completion.chunk", "created": 0, "model": outer.model}
                for piece in (text[: len(text) // 2], text[len(text) // 2:]):
                    self._event({**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
                self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                self._event("[DONE]")
                self._end()

        super().__init__(Handler)

    @staticmethod
    def read(messages: list[dict[str, Any]]) -> tuple[list[bytes], str]:
        """The pictures (decoded from their data: URLs) and the last text part of ``messages``."""
        import base64

        pictures: list[bytes] = []
        asked = ""
        for m in messages:
            content = m.get("content")
            if isinstance(content, str):
                asked = content if m.get("role") == "user" else asked
                continue
            for part in content or []:
                if part.get("type") == "text":
                    asked = part.get("text", "")
                elif part.get("type") == "image_url":
                    url = (part.get("image_url") or {}).get("url", "")
                    if url.startswith("data:") and ";base64," in url:
                        pictures.append(base64.b64decode(url.split(";base64,", 1)[1]))
        return pictures, asked

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
