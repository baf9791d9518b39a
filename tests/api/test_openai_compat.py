"""The OpenAI-compatible API under /v1, driven by the official openai SDK against a real uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import numpy as np
import openai
import pytest

from tests.api.conftest import EN, OVERRIDES, SICK, ZH, LiveServer, SyncASGITransport, assert_error
from zhiku import Zhiku, load_settings
from zhiku.api import create_app


@pytest.fixture
def oai(live: LiveServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=live.url + "/v1", api_key="unused", max_retries=0, timeout=60) as c:
        yield c


def _fill(live: LiveServer) -> None:
    from zhiku.client import ZhikuClient

    with ZhikuClient(live.url) as c:
        c.create_kb("hr", description="HR policies")
        c.wait_for_job(c.upload("hr", [("leave.md", ZH.encode()), ("sick.md", SICK.encode())]).id)
        c.create_kb("en")
        c.wait_for_job(c.upload("en", [("refund.md", EN.encode())]).id)


def test_models_list_kbs_and_chat_models(live: LiveServer, oai: openai.OpenAI, zk: Zhiku) -> None:
    _fill(live)
    ids = [m.id for m in oai.models.list()]
    assert "kb:hr" in ids and "kb:en" in ids
    for m in zk.list_chat_models(check=False):
        assert m.name in ids
    assert all(m.object == "model" and isinstance(m.created, int) for m in oai.models.list())


def test_chat_completion_over_a_kb(live: LiveServer, oai: openai.OpenAI) -> None:
    _fill(live)
    done = oai.chat.completions.create(model="kb:hr", messages=[
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "病假怎么算？"},
        {"role": "assistant", "content": "病假工资按基本工资的百分之八十发放。"},
        {"role": "user", "content": "年假有几天？"}])
    assert done.object == "chat.completion" and done.id.startswith("chatcmpl-") and done.model == "kb:hr"
    assert len(done.choices) == 1
    choice = done.choices[0]
    assert choice.index == 0 and choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "十五天" in choice.message.content
    assert done.usage is not None and done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens
    citations = done.model_extra["citations"]
    assert citations and citations[0]["kb"] == "hr" and citations[0]["file"] == "leave.md"
    assert {"n", "chunk_id", "text", "score"} <= set(citations[0])
    assert "十五天" in citations[0]["text"]


def test_streamed_chat_completion_over_a_kb(live: LiveServer, oai: openai.OpenAI) -> None:
    _fill(live)
    plain = oai.chat.completions.create(model="kb:hr", messages=[{"role": "user", "content": "年假有几天？"}])
    chunks = list(oai.chat.completions.create(model="kb:hr", stream=True,
                                              stream_options={"include_usage": True},
                                              messages=[{"role": "user", "content": "年假有几天？"}]))
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content and "十五天" in text
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == "stop"
    assert finals[0].model_extra["citations"] == plain.model_extra["citations"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None  # include_usage


def test_an_extractive_answer_streams_sentence_by_sentence(live: LiveServer, oai: openai.OpenAI) -> None:
    """Issue 21, item 7: with no model the answer came as one chunk; a client reading a stream expects
    it to arrive as a model writes it, here a sentence a chunk."""
    from zhiku.api.openai_choices import sentences

    _fill(live)
    question = [{"role": "user", "content": "年假可以分次休吗？每年有几天？"}]
    plain = oai.chat.completions.create(model="kb:hr", messages=question).choices[0].message.content
    chunks = list(oai.chat.completions.create(model="kb:hr", stream=True, messages=question))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == plain
    assert len(sentences(plain)) >= 2, plain  # the answer quotes both sentences of the passage
    assert pieces == sentences(plain)


def test_sentences_keep_every_character_and_their_markers() -> None:
    from zhiku.api.openai_choices import sentences

    zh = "入职满一年的员工每年享有十五天带薪年假。[1] 年假可以分次休，但每次不少于半天。[1]"
    assert sentences(zh) == ["入职满一年的员工每年享有十五天带薪年假。[1]", " 年假可以分次休，但每次不少于半天。[1]"]
    en = 'Refunds take 14 days. Items (e.g. shoes) "must be unworn." Keep v1.2 receipts\nthanks'
    assert sentences(en) == ["Refunds take 14 days.", " Items (e.g.", ' shoes) "must be unworn."',
                             " Keep v1.2 receipts\n", "thanks"]
    for text in ("", "no end", "“好。”他说。", "!!!", "\n\n"):
        assert "".join(sentences(text)) == text


def test_raw_stream_format_ends_with_done(live: LiveServer) -> None:
    _fill(live)
    with httpx.Client(base_url=live.url, timeout=60) as c:
        r = c.post("/v1/chat/completions", json={"model": "kb:en", "stream": True,
                                                 "messages": [{"role": "user", "content": "When are refunds paid?"}]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [e for e in r.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert "14 days" in r.text


def test_embeddings(oai: openai.OpenAI, zk: Zhiku) -> None:
    one = oai.embeddings.create(input="年假有十五天", model="static")
    assert len(one.data) == 1 and one.data[0].index == 0 and one.model == "static"
    assert len(one.data[0].embedding) == zk.embedder("static").dimensions
    many = oai.embeddings.create(input=["员工每年享有十五天带薪年假", "员工每年享有带薪年假十五天",
                                        "Refunds are paid within 14 days"], model="static")
    assert [d.index for d in many.data] == [0, 1, 2] and many.usage.total_tokens > 0
    a, b, c = (np.asarray(d.embedding) for d in many.data)
    cos = lambda x, y: float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))  # noqa: E731
    assert cos(a, b) > cos(a, c)
    floats = oai.embeddings.create(input="年假有十五天", model="static", encoding_format="float")
    assert np.allclose(floats.data[0].embedding, one.data[0].embedding, atol=1e-6)


def test_embeddings_default_model(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url) as c:  # the SDK always names a model
        r = c.post("/v1/embeddings", json={"input": ["a", "b"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["model"] == "static" and len(body["data"]) == 2
    assert body["data"][1] == {"object": "embedding", "index": 1, "embedding": body["data"][1]["embedding"]}
    assert all(isinstance(x, float) for x in body["data"][0]["embedding"])


def test_errors(live: LiveServer, oai: openai.OpenAI, zk: Zhiku) -> None:
    _fill(live)
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="kb:nothing", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body and "nothing" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="kb:nothing", stream=True, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError):
        oai.embeddings.create(input="hi", model="no-such-embedder")
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="kb:hr", messages=[{"role": "assistant", "content": "hi"}])
    with httpx.Client(base_url=live.url) as c:
        assert_v1_error(c.post("/v1/chat/completions", json={"model": "x", "messages": [{"role": "user",
                                                                                       "content": "hi"}]}),
                        404, "not_found", "model")
        for stream in (False, True):  # a KB that does not exist is a model that does not exist, streamed or not
            unknown = assert_v1_error(c.post("/v1/chat/completions", json={
                "model": "kb:无此库", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}),
                404, "not_found", "model")
            assert unknown["code"] == "model_not_found" and "无此库" in unknown["message"], unknown
        # request validation is a 400 on /v1, as OpenAI answers (zhiku's own routes keep 422)
        assert_v1_error(c.post("/v1/chat/completions", json={"model": "kb:hr", "messages": []}), 400,
                        "validation_error", "messages")
        assert_v1_error(c.post("/v1/embeddings", json={"input": []}), 400, "invalid_input", "input")
        assert_error(c.post("/api/search", json={"kbs": ["hr"], "query": "x", "top_k": 0}), 422, "validation_error")


def assert_v1_error(response: httpx.Response, status: int, type_: str, param: str | None) -> dict[str, Any]:
    """OpenAI's error object (type, message, code, param) with zhiku's details."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"type", "message", "code", "param", "details"}, error
    assert error["type"] == type_ and error["param"] == param and error["code"] and error["message"], error
    return error


def test_unreachable_chat_model_is_listed_and_a_readable_503(home: Path) -> None:
    overrides = {**OVERRIDES, "llm": {"detect_local": False, "models": {
        "qwen": {"base_url": "http://127.0.0.1:9/v1", "model": "qwen2.5"}}}}
    with Zhiku(load_settings(home=home, overrides=overrides, environ={})) as zk:
        zk.create_kb("hr")
        transport = SyncASGITransport(create_app(zk, start_jobs=False))
        try:
            with openai.OpenAI(base_url="http://zhiku.test/v1", api_key="unused", max_retries=0,
                               http_client=httpx.Client(transport=transport)) as oai:
                assert {"qwen", "kb:hr"} <= {m.id for m in oai.models.list()}
                with pytest.raises(openai.InternalServerError) as caught:
                    oai.chat.completions.create(model="qwen", messages=[{"role": "user", "content": "hi"}])
                assert caught.value.status_code == 503 and "qwen" in caught.value.message
                assert caught.value.body["type"] == "model_unreachable"
        finally:
            transport.close()
