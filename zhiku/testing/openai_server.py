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
