"""Stand-ins for the model servers people run on their own machine, each answering the requests
zhiku's detection sends the way the real one does (on a free port of 127.0.0.1, or the one given):

    ollama      GET /api/tags (Ollama's own list), /api/version, /v1/models (owned_by "library")
    llamacpp    GET /v1/models (owned_by "llamacpp"), /props (the loaded file), /health
    llamacpp-old  only /props and /health, as llama.cpp server builds before /v1/models
    vllm        GET /v1/models (owned_by "vllm"), /health, /version
    garbage     200 with an HTML page to every GET (some other program on the port)
"""

from __future__ import annotations

from typing import Any

from zhiku.testing.http import BackgroundHTTPServer, StandInHandler

KINDS = ("ollama", "llamacpp", "llamacpp-old", "vllm", "garbage")


class LocalModelServer(BackgroundHTTPServer):
    def __init__(self, kind: str, models: tuple[str, ...] = ("qwen2.5:0.5b",), port: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
        self.kind, self.models = kind, models
        self.paths: list[str] = []  # every path asked, in order
        outer = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.paths.append(self.path)
                reply = outer.answer(self.path.split("?")[0].rstrip("/"))
                if reply is None:
                    return self._json(404, {"error": "not found"})
                if isinstance(reply, str):
                    data = reply.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self._json(200, reply)

        super().__init__(Handler, port)

    def _list(self, owner: str) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": owner}
                                           for m in self.models]}

    def answer(self, path: str) -> Any:
        """The body the server answers ``path`` with (None: 404; a str: an HTML page)."""
        if self.kind == "garbage":
            return "<html><body>It works!</body></html>"
        if self.kind == "ollama":
            return {"/api/tags": {"models": [{"name": m, "model": m, "size": 397821319,
                                              "details": {"format": "gguf", "family": "qwen2"}} for m in self.models]},
                    "/api/version": {"version": "0.5.7"}, "/v1/models": self._list("library"),
                    "": "Ollama is running"}.get(path)
        if self.kind in ("llamacpp", "llamacpp-old"):
            props = {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1,
                     "model_path": f"/models/{self.models[0]}" if self.models else ""}
            table: dict[str, Any] = {"/props": props, "/health": {"status": "ok"}}
            if self.kind == "llamacpp":
                table["/v1/models"] = self._list("llamacpp")
            return table.get(path)
        return {"/v1/models": self._list("vllm"), "/health": {}, "/version": {"version": "0.6.4"}}.get(path)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
