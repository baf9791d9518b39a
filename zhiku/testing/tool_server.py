"""A local HTTP server speaking OpenAI's chat completions with tools (``/v1/chat/completions``,
streamed as zhiku's chat models ask, and ``/v1/models``): the stand-in for a tool-calling model.

It answers as such a model would:

- given ``tools`` (and ``tool_choice`` not ``"none"``) and a last message from the user, it calls
  the first tool (or the one ``tool_choice`` names) with ``{"query": <the user's words>}``, streamed
  in pieces (id and name first, then the arguments in two parts), ``finish_reason: "tool_calls"``;
- after a ``tool`` message, it answers ``Tool result: <that message's content>``;
- with ``response_format`` ``json_object`` or ``json_schema``, it answers a JSON object;
- otherwise ``Echo: <the last user message>``.

It honours ``stop`` (the text ends before the first stop sequence, ``finish_reason: "stop"``) and
records every request body in ``requests``. ``script`` replaces the answers above: a function of the
request body returning the text and the tool calls (the agent's tests and benchmark script a model
that splits a question, searches again, or calls a tool it was not given).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from zhiku.testing.http import BackgroundHTTPServer, StandInHandler


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-tools", "object": "chat.completion.chunk", "created": 0, "model": "tools",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def reply_to(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The text and the tool calls the stand-in model answers ``body`` with."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    tools, choice = body.get("tools") or [], body.get("tool_choice", "auto")
    if tools and choice != "none" and last.get("role") == "user":
        name = tools[0]["function"]["name"]
        if isinstance(choice, dict):
            name = choice["function"]["name"]
        arguments = json.dumps({"query": _text(last)}, ensure_ascii=False)
        return "", [{"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}]
    if last.get("role") == "tool":
        return f"Tool result: {_text(last)}", []
    fmt = (body.get("response_format") or {}).get("type")
    question = next((_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    if fmt in ("json_object", "json_schema"):
        return json.dumps({"answer": question}, ensure_ascii=False), []
    return f"Echo: {question}", []


class ToolChatServer(BackgroundHTTPServer):
    def __init__(self, models: tuple[str, ...] = ("tools",),
                 script: Callable[[dict[str, Any]], tuple[str, list[dict[str, Any]]]] | None = None) -> None:
        self.models = models
        self.script = script or reply_to
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(StandInHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/v1/models":
                    return self._models(outer.models)
                self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": "not found"}})
                body = self._read_json()
                outer.requests.append(body)
                if body.get("model") not in outer.models:
                    return self._json(404, {"error": {"message": f"model {body.get('model')} not found"}})
                text, calls = outer.script(body)
                stop = body.get("stop") or []
                for s in [stop] if isinstance(stop, str) else stop:
                    if s and s in text:
                        text = text[:text.index(s)]
                self._start_stream()
                self._event(_chunk({"role": "assistant", "content": ""}))
                for i in range(0, len(text), 5):
                    self._event(_chunk({"content": text[i:i + 5]}))
                for n, call in enumerate(calls):
                    fn, args = call["function"], call["function"]["arguments"]
                    self._event(_chunk({"tool_calls": [{"index": n, "id": call["id"], "type": "function",
                                                        "function": {"name": fn["name"], "arguments": ""}}]}))
                    half = len(args) // 2
                    for part in (args[:half], args[half:]):
                        self._event(_chunk({"tool_calls": [{"index": n, "function": {"arguments": part}}]}))
                self._event(_chunk({}, "tool_calls" if calls else "stop"))
                self._event("[DONE]")
                self._end()

        super().__init__(Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"
