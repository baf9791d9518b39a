"""The streamed reply of an OpenAI-compatible server is read chunk by chunk as the JSON it is
(not built into the SDK's models): what each chunk carries ends up in the deltas, and a chunk
that cannot be read ends in the same typed error as before."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from zhiku.errors import BadModelResponse
from zhiku.llm.base import Timeouts, complete
from zhiku.llm.openai_compat import OpenAICompatModel
from zhiku.testing.http import BackgroundHTTPServer, StandInHandler


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": choices, **extra}


CALL = {"index": 0, "id": "call_7", "type": "function", "function": {"name": "kb_search", "arguments": ""}}


def _data(chunk: dict[str, Any], event: str = "") -> bytes:
    return (event + "data: " + json.dumps(chunk, ensure_ascii=False) + "\n\n").encode()


def _args(index: int, part: str) -> dict[str, Any]:
    return _chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})


SCRIPTS: dict[str, list[bytes]] = {
    # vLLM's way: "usage": null on every chunk, the usage with the finish; a keep-alive comment, an
    # event name, a second tool call interleaved with the first, the role alone in the first delta
    "tools": [
        b": keep-alive\n\n",
        _data(_chunk({"role": "assistant", "content": ""}, usage=None)),
        _data(_chunk({"content": "让我查一下"}, usage=None)),
        _data(_chunk({"tool_calls": [CALL]}, usage=None)),
        _data(_chunk({"tool_calls": [CALL | {"index": 1, "id": "call_8"}]}), "event: message\n"),
        _data(_args(0, '{"q')), _data(_args(1, "{}")), _data(_args(0, '": 1}')),
        _data(_chunk({}, "tool_calls", usage={"prompt_tokens": 30, "completion_tokens": 9})),
        b"data: [DONE]\n\n",
    ],
    # a server that sends neither usage nor [DONE], each event split across two writes
    "plain": [b'data: {"choices": [{"index": 0, "delta": {"content": "Hel', b'lo"}}]}\n\n',
              b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}\n\n'],
    # an error object in the middle of the stream (what vLLM / OpenAI send when generation fails)
    "error-event": [_data(_chunk({"content": "Hi"})),
                    b'data: {"error": {"message": "the model ran out of memory", "type": "server_error"}}\n\n'],
    "not-an-object": [b"data: [1, 2]\n\n"],
    "choices-not-objects": [b'data: {"choices": ["oops"]}\n\n'],
}


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    class Handler(StandInHandler):
        def do_POST(self) -> None:  # noqa: N802
            self._start_stream()
            for data in SCRIPTS[self._read_json()["model"]]:
                self._raw(data)
            self._end()

    with BackgroundHTTPServer(Handler) as server:
        yield f"http://127.0.0.1:{server.port}/v1"


def _model(url: str, script: str) -> OpenAICompatModel:
    return OpenAICompatModel("scripted", url, script, timeouts=Timeouts(connect=2, read=5, total=10))


def test_text_tool_call_pieces_and_usage_are_joined(server_url: str) -> None:
    model = _model(server_url, "tools")
    deltas = list(model.stream([{"role": "user", "content": "hi"}]))
    model.close()
    assert [d.text for d in deltas[:-1]] == ["让我查一下"]
    last = deltas[-1]
    assert last.finish_reason == "tool_calls"
    assert last.usage is not None and (last.usage.prompt_tokens, last.usage.completion_tokens) == (30, 9)
    assert last.tool_calls == [
        {"id": "call_7", "type": "function", "function": {"name": "kb_search", "arguments": '{"q": 1}'}},
        {"id": "call_8", "type": "function", "function": {"name": "kb_search", "arguments": "{}"}},
    ]


def test_a_server_without_usage_or_done(server_url: str) -> None:
    model = _model(server_url, "plain")
    deltas = list(model.stream([{"role": "user", "content": "hi"}]))
    model.close()
    assert "".join(d.text for d in deltas) == "Hello"
    assert deltas[-1].finish_reason == "length" and deltas[-1].usage is None and deltas[-1].tool_calls is None


def test_an_error_event_mid_stream_is_the_servers_message(server_url: str) -> None:
    model = _model(server_url, "error-event")
    with pytest.raises(BadModelResponse) as info:
        complete(model, [{"role": "user", "content": "hi"}])
    model.close()
    assert "sent an error: the model ran out of memory" in info.value.message


@pytest.mark.parametrize("script", ["not-an-object", "choices-not-objects"])
def test_a_chunk_of_the_wrong_shape_is_a_reply_that_could_not_be_read(server_url: str, script: str) -> None:
    model = _model(server_url, script)
    with pytest.raises(BadModelResponse) as info:
        complete(model, [{"role": "user", "content": "hi"}])
    model.close()
    assert "sent a reply that could not be read" in info.value.message
    assert "Traceback" not in info.value.message


def test_only_the_api_key_is_asked_for_where_the_sdk_has_request_security_options() -> None:
    """This SDK sends an admin key too unless a request says otherwise; an older one (pyproject allows
    openai>=1.40) has no such option and is not given it."""
    from types import SimpleNamespace

    import openai

    from zhiku.llm.openai_compat import _bearer_only

    assert _bearer_only(openai) == {"security": {"bearer_auth": True}}
    older = SimpleNamespace(_models=SimpleNamespace(FinalRequestOptions=SimpleNamespace(model_fields={"timeout": None})))
    assert _bearer_only(older) == {}
