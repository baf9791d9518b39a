"""/v1 with a chat model that calls tools (zhiku.testing.tool_server, a real HTTP server), driven by the
official openai SDK and LangChain's ChatOpenAI / OpenAIEmbeddings against a real uvicorn: tools and
tool turns, response_format, stop, seed and n reach the model; its tool calls come back in OpenAI's
shape, whole and streamed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import openai
import pytest

from tests.api.conftest import OVERRIDES, ZH, LiveServer
from zhiku import Zhiku, load_settings
from zhiku.testing.tool_server import ToolChatServer

WEATHER = {"type": "function", "function": {"name": "weather", "description": "the weather of a city",
                                            "parameters": {"type": "object",
                                                           "properties": {"query": {"type": "string"}}}}}


@pytest.fixture
def model() -> Iterator[ToolChatServer]:
    with ToolChatServer() as server:
        yield server


def _zhiku(home: Path, server: ToolChatServer, **llm: Any) -> Zhiku:
    overrides = {**OVERRIDES, "llm": {"detect_local": False, **llm,
                                      "models": {"tools": {"base_url": server.base_url, "model": "tools"}}}}
    return Zhiku(load_settings(home=home, overrides=overrides, environ={}))


@pytest.fixture
def live(home: Path, model: ToolChatServer) -> Iterator[LiveServer]:
    with _zhiku(home, model) as zk:
        zk.create_kb("hr")
        server = LiveServer(zk)
        yield server
        server.stop()


@pytest.fixture
def oai(live: LiveServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0, timeout=60) as c:
        yield c


def test_tool_calls_come_back_in_openai_shape(oai: openai.OpenAI, model: ToolChatServer) -> None:
    done = oai.chat.completions.create(model="tools", tools=[WEATHER], tool_choice="auto", parallel_tool_calls=False,
                                       messages=[{"role": "developer", "content": "use tools"},
                                                 {"role": "user", "content": "weather in Paris?"}])
    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].id == "call_1" and calls[0].type == "function"
    assert calls[0].function.name == "weather"  # type: ignore[union-attr]
    assert json.loads(calls[0].function.arguments) == {"query": "weather in Paris?"}  # type: ignore[union-attr]
    sent = model.requests[-1]
    assert sent["tools"] == [WEATHER] and sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is False
    assert sent["messages"][0] == {"role": "system", "content": "use tools"}  # developer: the instructions

    # the tool's result goes back with the call in the history; the model answers from it
    answer = oai.chat.completions.create(model="tools", tools=[WEATHER], messages=[
        {"role": "user", "content": "weather in Paris?"}, choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21°C"}])
    assert answer.choices[0].message.content == "Tool result: sunny, 21°C"
    assert answer.choices[0].finish_reason == "stop"
    sent = model.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert sent[2]["content"] is None and sent[2]["tool_calls"][0]["id"] == "call_1"
    assert sent[3] == {"role": "tool", "content": "sunny, 21°C", "tool_call_id": "call_1"}


def test_streamed_tool_calls(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(model="tools", tools=[WEATHER], stream=True,
                                              tool_choice={"type": "function", "function": {"name": "weather"}},
                                              messages=[{"role": "user", "content": "Paris"}]))
    deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert len(deltas) == 1 and deltas[0][0].index == 0 and deltas[0][0].id == "call_1"
    assert deltas[0][0].function and deltas[0][0].function.name == "weather"
    assert json.loads(deltas[0][0].function.arguments or "") == {"query": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_generation_options_reach_the_model(oai: openai.OpenAI, model: ToolChatServer) -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    done = oai.chat.completions.create(model="tools", messages=[{"role": "user", "content": "hi"}],
                                       response_format=fmt, seed=42, stop=["\n\n"], max_completion_tokens=64)
    assert json.loads(done.choices[0].message.content or "") == {"answer": "hi"}
    sent = model.requests[-1]
    assert sent["response_format"] == fmt and sent["seed"] == 42 and sent["stop"] == ["\n\n"]
    assert sent["max_tokens"] == 64
    stopped = oai.chat.completions.create(model="tools", messages=[{"role": "user", "content": "one two"}],
                                          stop="two")
    assert stopped.choices[0].message.content == "Echo: one"
    many = oai.chat.completions.create(model="tools", messages=[{"role": "user", "content": "hi"}], n=2)
    assert [c.message.content for c in many.choices] == ["Echo: hi", "Echo: hi"] and len(model.requests) == 4
    streamed = list(oai.chat.completions.create(model="tools", messages=[{"role": "user", "content": "hi"}], n=2,
                                                stream=True))
    for index in (0, 1):
        assert "".join(c.choices[0].delta.content or "" for c in streamed
                       if c.choices and c.choices[0].index == index) == "Echo: hi"
    with pytest.raises(openai.BadRequestError) as caught:  # a tool result answers a call: which one?
        oai.chat.completions.create(model="tools", messages=[{"role": "user", "content": "hi"},
                                                             {"role": "tool", "content": "x"}])
    assert caught.value.param == "messages.1.tool_call_id"


def test_a_kb_answered_by_a_chat_model_takes_no_seed(home: Path, model: ToolChatServer) -> None:
    with _zhiku(home, model, default="tools") as zk:
        zk.create_kb("hr")
        doc = home.parent / "leave.md"
        doc.write_text(ZH, encoding="utf-8")
        zk.add_files("hr", [doc])
        server = LiveServer(zk)
        try:
            with openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0) as oai:
                with pytest.raises(openai.BadRequestError) as caught:
                    oai.chat.completions.create(model="kb:hr", seed=1, messages=[{"role": "user", "content": "年假"}])
                assert caught.value.param == "seed" and "tools" in caught.value.message
                cut = oai.chat.completions.create(model="kb:hr", stop=["资料"],
                                                  messages=[{"role": "user", "content": "年假有几天"}])
                assert cut.choices[0].message.content == "Echo: " and cut.choices[0].finish_reason == "stop"
        finally:
            server.stop()


def test_langchain_chat_openai(live: LiveServer) -> None:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=live.url + "/v1", api_key="unused", model="tools", max_retries=0)  # type: ignore[arg-type]
    assert llm.invoke([SystemMessage("be brief"), HumanMessage("hello")]).content == "Echo: hello"

    def weather(query: str) -> str:
        """The weather of a city."""
        return "sunny"

    with_tools = llm.bind_tools([weather])
    asked = with_tools.invoke("weather in Paris?")
    assert isinstance(asked, AIMessage)
    assert asked.tool_calls == [{"name": "weather", "args": {"query": "weather in Paris?"}, "id": "call_1",
                                 "type": "tool_call"}]
    assert asked.response_metadata["finish_reason"] == "tool_calls"
    streamed = list(with_tools.stream("weather in Paris?"))
    whole = streamed[0]
    for piece in streamed[1:]:
        whole = whole + piece  # type: ignore[assignment]
    assert isinstance(whole, AIMessage) and whole.tool_calls == asked.tool_calls
    answered = with_tools.invoke([HumanMessage("weather in Paris?"), asked,
                                  ToolMessage("sunny", tool_call_id="call_1")])
    assert answered.content == "Tool result: sunny"
    kb = ChatOpenAI(base_url=live.url + "/v1", api_key="unused", model="kb:hr", max_retries=0)  # type: ignore[arg-type]
    reply = kb.invoke("年假有几天？")  # an empty KB: the extractive answerer says it found nothing
    assert isinstance(reply.content, str) and reply.content


def test_langchain_openai_embeddings(live: LiveServer) -> None:
    from langchain_openai import OpenAIEmbeddings

    embeddings = OpenAIEmbeddings(base_url=live.url + "/v1", api_key="unused", model="static",  # type: ignore[arg-type]
                                  check_embedding_ctx_length=False, max_retries=0)
    one = embeddings.embed_query("年假有十五天")
    many = embeddings.embed_documents(["年假有十五天", "Refunds are paid within 14 days"])
    assert len(one) == len(many[0]) > 0 and many[0] == pytest.approx(one, abs=1e-6)
