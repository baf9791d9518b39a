"""/v1 parameters through the official openai SDK against a real uvicorn: each one honoured or refused
with a 400 that names it — for ``kb:`` models (the extractive answerer here), models.retrieve, and
embeddings (dimensions, token-id input)."""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx
import openai
import pytest

from tests.api.conftest import LiveServer
from tests.api.test_openai_compat import _fill, assert_v1_error
from zhiku import Zhiku
from zhiku.api import openai_tokens
from zhiku.api.openai_wire import count_tokens

Q = [{"role": "user", "content": "年假有几天？"}]


@pytest.fixture
def oai(live: LiveServer) -> Iterator[openai.OpenAI]:
    _fill(live)
    with openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0, timeout=60) as c:
        yield c


def _refused(call: Any, param: str) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as caught:
        call()
    assert caught.value.status_code == 400 and caught.value.param == param, caught.value.body
    assert caught.value.code
    if caught.value.code == "unsupported_parameter":  # a parameter that cannot be honoured says so by name
        assert f"'{param}' cannot be honoured" in caught.value.message
    return caught.value


def test_retrieve_models(oai: openai.OpenAI, zk: Zhiku) -> None:
    kb = oai.models.retrieve("kb:hr")
    assert kb.id == "kb:hr" and kb.object == "model" and kb.owned_by == "zhiku (knowledge base)"
    assert kb.model_extra and kb.model_extra["description"] == "HR policies"
    for m in zk.list_chat_models(check=False):
        assert oai.models.retrieve(m.name).id == m.name
    for missing in ("kb:nothing", "no-such-model"):
        with pytest.raises(openai.NotFoundError):
            oai.models.retrieve(missing)


def test_developer_and_tool_turns_are_history_a_kb_answer_leaves_out(oai: openai.OpenAI) -> None:
    plain = oai.chat.completions.create(model="kb:hr", messages=Q).choices[0].message.content
    done = oai.chat.completions.create(model="kb:hr", messages=[
        {"role": "developer", "content": "answer in English"},
        {"role": "user", "content": "what is the weather?"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
        *Q])
    assert done.choices[0].message.content == plain and "十五天" in plain
    # a kb: model answers a user's question; a tool result last is not one
    _refused(lambda: oai.chat.completions.create(model="kb:hr", messages=[
        *Q, {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]), "messages")


def test_stop_and_max_tokens_cut_a_kb_answer(oai: openai.OpenAI) -> None:
    whole = oai.chat.completions.create(model="kb:hr", messages=Q)
    text = whole.choices[0].message.content or ""
    assert "年假" in text
    stop = oai.chat.completions.create(model="kb:hr", messages=Q, stop=["年假"])
    assert stop.choices[0].message.content == text[:text.index("年假")]
    assert stop.choices[0].finish_reason == "stop"
    short = oai.chat.completions.create(model="kb:hr", messages=Q, max_completion_tokens=5)
    assert count_tokens(short.choices[0].message.content or "") == 5 and text.startswith(
        short.choices[0].message.content or "")
    assert short.choices[0].finish_reason == "length" and short.usage and short.usage.completion_tokens == 5
    old_name = oai.chat.completions.create(model="kb:hr", messages=Q, max_tokens=5)
    assert old_name.choices[0].message.content == short.choices[0].message.content
    # streamed: the same cut, whatever the pieces
    chunks = list(oai.chat.completions.create(model="kb:hr", messages=Q, stop="年假", stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == stop.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    chunks = list(oai.chat.completions.create(model="kb:hr", messages=Q, max_tokens=5, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        short.choices[0].message.content
    _refused(lambda: oai.chat.completions.create(model="kb:hr", messages=Q, max_tokens=5, max_completion_tokens=6),
             "max_completion_tokens")


def test_n_seed_tools_and_formats_over_a_kb(oai: openai.OpenAI) -> None:
    many = oai.chat.completions.create(model="kb:hr", messages=Q, n=3, seed=7)
    assert [c.index for c in many.choices] == [0, 1, 2]
    assert len({c.message.content for c in many.choices}) == 1  # the extractive answerer is deterministic
    assert many.usage and many.usage.completion_tokens == 3 * count_tokens(many.choices[0].message.content or "")
    chunks = list(oai.chat.completions.create(model="kb:hr", messages=Q, n=2, stream=True, max_tokens=4,
                                              stream_options={"include_usage": True}))
    assert len({c.id for c in chunks}) == 1 and chunks[-1].choices == [] and chunks[-1].usage
    for index in (0, 1):  # the choices follow one another, each cut alike
        mine = [c.choices[0] for c in chunks if c.choices and c.choices[0].index == index]
        assert mine[0].delta.role == "assistant" and [m.finish_reason for m in mine if m.finish_reason] == ["length"]
        assert count_tokens("".join(m.delta.content or "" for m in mine)) == 4
    assert chunks[-1].usage.completion_tokens == 8
    tool = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    auto = oai.chat.completions.create(model="kb:hr", messages=Q, tools=[tool], tool_choice="auto")
    assert auto.choices[0].finish_reason == "stop" and not auto.choices[0].message.tool_calls
    _refused(lambda: oai.chat.completions.create(model="kb:hr", messages=Q, tools=[tool], tool_choice="required"),
             "tool_choice")
    _refused(lambda: oai.chat.completions.create(model="kb:hr", messages=Q, response_format={"type": "json_object"}),
             "response_format")
    text = oai.chat.completions.create(model="kb:hr", messages=Q, response_format={"type": "text"})
    assert "十五天" in (text.choices[0].message.content or "")
    _refused(lambda: oai.chat.completions.create(model="kb:hr", messages=Q, logprobs=True), "logprobs")
    _refused(lambda: oai.chat.completions.create(model="kb:hr", messages=Q, top_p=0.5), "top_p")
    _refused(lambda: oai.chat.completions.create(model="kb:hr", messages=Q, extra_body={"top_k": 3}), "top_k")
    plain = oai.chat.completions.create(model="kb:hr", messages=Q, top_p=1, user="someone", logprobs=False)
    assert plain.choices[0].message.content == text.choices[0].message.content


def test_validation_errors_are_400_with_code_and_param(live: LiveServer, oai: openai.OpenAI) -> None:
    err = _refused(lambda: oai.chat.completions.create(model="kb:hr", messages=Q, n=0), "n")
    assert err.type == "validation_error" and err.code == "invalid_value"
    assert isinstance(err.body, dict) and err.body["details"]["errors"]
    _refused(lambda: oai.chat.completions.create(model="kb:hr", messages=[{"role": "robot", "content": "x"}]),
             "messages.0.role")
    with httpx.Client(base_url=live.url) as c:
        error = assert_v1_error(c.post("/v1/chat/completions", json={"messages": Q}), 400, "validation_error", "model")
        assert error["code"] == "missing_required_parameter"
        assert_v1_error(c.post("/v1/chat/completions", json={"model": "kb:hr", "messages": Q, "tool_choice": "auto"}),
                        400, "invalid_input", "tool_choice")
        assert_v1_error(c.post("/v1/chat/completions", json={"model": "kb:hr", "messages": Q,
                                                             "response_format": {"type": "xml"}}),
                        400, "invalid_input", "response_format.type")
        assert_v1_error(c.post("/v1/embeddings", json={"input": "x", "model": "nope"}), 404, "not_found", "model")


def test_embeddings_dimensions(oai: openai.OpenAI, zk: Zhiku) -> None:
    dims = zk.embedder("static").dimensions
    same = oai.embeddings.create(input="年假", model="static", dimensions=dims)
    assert len(same.data[0].embedding) == dims
    err = _refused(lambda: oai.embeddings.create(input="年假", model="static", dimensions=dims // 2), "dimensions")
    assert str(dims) in err.message
    assert oai.embeddings.create(input="年假", model="static", user="someone").data
    _refused(lambda: oai.embeddings.create(input="年假", model="static", extra_body={"truncate": True}), "truncate")


def test_token_id_input_is_refused_with_what_to_set(oai: openai.OpenAI, live: LiveServer) -> None:
    """LangChain's default OpenAIEmbeddings sends cl100k_base token ids; offline there is no
    cl100k_base to read them with (tiktoken downloads it), so the error says what to set."""
    assert openai_tokens.cache_file() is None or not openai_tokens.cache_file().is_file()  # type: ignore[union-attr]
    for given in ([[9906, 1917]], [9906, 1917]):
        err = _refused(lambda: oai.embeddings.create(input=given, model="static"), "input")
        assert "check_embedding_ctx_length=False" in err.message and err.code == "token_ids_unsupported"
    with httpx.Client(base_url=live.url) as c:
        r = c.post("/v1/embeddings", json={"input": [[1, 2], "text"], "model": "static"})
    assert r.status_code == 400 and json.loads(r.text)["error"]["param"] == "input"
