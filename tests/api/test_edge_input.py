"""Hostile input is answered at once with 400/413/422, never 500, and nothing of it is stored:
lone surrogates, integers past 64 bits, over-long fields, names that spoof or hide characters."""

from __future__ import annotations

import json
import time
import unicodedata
from io import BytesIO
from typing import Any

import httpx
import pytest

from tests.api.conftest import ZH, LiveServer, assert_error
from zhiku import Zhiku
from zhiku.schema import limits

LONE = '"\\ud800"'  # a JSON string holding a lone surrogate, as a fuzzer or a broken client sends it


def post_json(http: httpx.Client, path: str, text: str) -> httpx.Response:
    return http.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


SURROGATE_BODIES = [
    ("/api/kbs", '{"name": %s}'),
    ("/api/search", '{"kbs": ["k"], "query": %s}'),
    ("/v1/embeddings", '{"input": [%s]}'),
    ("/v1/chat/completions", '{"model": "kb:k", "messages": [{"role": "user", "content": %s}]}'),
    ("/knowledge_base/search_docs", '{"knowledge_base_name": "k", "query": %s}'),
    ("/knowledge_base/update_info", '{"knowledge_base_name": "k", "kb_info": %s}'),
    ("/chat/kb_chat", '{"query": %s, "kb_name": "k"}'),
    ("/knowledge_base/local_kb/k/chat/completions", '{"messages": [{"role": "user", "content": %s}]}'),
    ("/api/conversations", '{"model": %s}'),
    ("/api/kbs", '{%s: "x"}'),  # in a key too
]


def test_lone_surrogates_are_400_and_the_connection_lives_on(live: LiveServer, zk: Zhiku) -> None:
    zk.create_kb("k")
    with httpx.Client(base_url=live.url, timeout=30) as http:
        for path, template in SURROGATE_BODIES:
            r = post_json(http, path, template % LONE)
            assert r.status_code == 400, (path, r.status_code, r.text)
            assert r.json()["error"]["type"] == "invalid_input"
            assert http.get("/api/health").status_code == 200  # the same keep-alive connection
        # a proper pair is one character, and fine
        r = post_json(http, "/api/kbs", '{"name": "\\ud83d\\ude00库"}')
        assert r.status_code == 201, r.text
        assert http.get("/api/conversations").json() == []  # the refused conversation was never stored
        assert http.get("/api/conversations").status_code == 200


@pytest.mark.parametrize("request_", [
    ("GET", "/api/conversations?offset=9223372036854775808", None),
    ("GET", "/api/conversations?limit=5&offset=-9223372036854775809", None),
    ("GET", "/api/kbs/k/chunks/9223372036854775808", None),
    ("PATCH", "/api/kbs/k/chunks/99999999999999999999999", {"text": "x"}),
    ("GET", "/api/kbs/k/files/x/content?page=9223372036854775808", None),
    ("POST", "/api/search", {"kbs": ["k"], "query": "年假", "top_k": 2**64}),
    ("POST", "/knowledge_base/update_docs", {"knowledge_base_name": "k", "file_names": ["a.md"], "chunk_size": 2**63}),
])
def test_integers_past_64_bits_are_refused(raw: httpx.Client, zk: Zhiku, request_: tuple[str, str, Any]) -> None:
    zk.create_kb("k")
    method, path, body = request_
    r = raw.request(method, path, json=body)
    assert r.status_code in (400, 422), (path, r.status_code, r.text)
    assert r.json()["error"]["type"] in ("invalid_input", "validation_error")


def test_names_are_nfc_and_refuse_spoofing_characters(raw: httpx.Client, zk: Zhiku) -> None:
    nfd = unicodedata.normalize("NFD", "café")
    assert nfd != "café"
    r = raw.post("/api/kbs", json={"name": nfd})
    assert r.status_code == 201 and r.json()["name"] == "café"
    for spelled in ("café", nfd):  # found again by either spelling
        assert raw.get(f"/api/kbs/{spelled}").status_code == 200
        assert raw.post("/knowledge_base/search_docs", json={"knowledge_base_name": spelled, "query": "x"}
                        ).status_code == 200
    assert_error(raw.post("/api/kbs", json={"name": "café"}), 409, "conflict")  # the same name
    for bad in ("evil\u202egpj.exe", "a\u2066b", "zero\u200bwidth", "bell\x07", "tab\tname", "a\u2028b"):
        assert_error(raw.post("/api/kbs", json={"name": bad}), 400, "invalid_input")
        r = raw.post("/api/kbs/café/files", files=[("files", (bad + ".md", BytesIO(ZH.encode())))])
        assert_error(r, 400, "invalid_input")
    assert [k.name for k in zk.list_kbs()] == ["café"]
    assert zk.list_files("café") == []
    # an uploaded file name in NFD is stored in NFC and found by either spelling
    r = raw.post("/api/kbs/café/files", files=[("files", (unicodedata.normalize("NFD", "résumé.md"),
                                                          BytesIO(ZH.encode())))])
    assert r.status_code == 202
    deadline = time.monotonic() + 60
    while raw.get(f"/api/jobs/{r.json()['id']}").json()["status"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [f.name for f in zk.list_files("café")] == ["résumé.md"]
    r = raw.get("/knowledge_base/download_doc",
                params={"knowledge_base_name": nfd, "file_name": unicodedata.normalize("NFD", "résumé.md")})
    assert r.status_code == 200 and r.content == ZH.encode()


def too_long(n: int) -> str:
    return "年" * (n + 1)


OVER_LIMIT: list[tuple[str, dict[str, Any]]] = [
    ("/api/search", {"kbs": ["k"], "query": too_long(limits.QUESTION_MAX_CHARS)}),
    ("/api/ask", {"kbs": ["k"], "question": too_long(limits.QUESTION_MAX_CHARS)}),
    ("/knowledge_base/search_docs", {"knowledge_base_name": "k", "query": too_long(limits.QUESTION_MAX_CHARS)}),
    ("/chat/kb_chat", {"query": too_long(limits.QUESTION_MAX_CHARS), "kb_name": "k"}),
    ("/chat/kb_chat", {"query": "年假", "kb_name": "k",
                       "history": [{"role": "user", "content": "x"}] * (limits.MESSAGES_MAX + 1)}),
    ("/chat/file_chat", {"query": too_long(limits.QUESTION_MAX_CHARS), "knowledge_id": "a" * 32}),
    ("/knowledge_base/search_temp_docs", {"query": too_long(limits.QUESTION_MAX_CHARS), "knowledge_id": "a" * 32}),
    ("/v1/chat/completions", {"model": "kb:k", "messages": [
        {"role": "user", "content": too_long(limits.QUESTION_MAX_CHARS)}]}),
    ("/v1/chat/completions", {"model": "kb:k", "messages": [
        {"role": "user", "content": "x"}] * (limits.MESSAGES_MAX + 1)}),
    ("/v1/chat/completions", {"model": "kb:k", "messages": [
        {"role": "system", "content": too_long(limits.MESSAGE_MAX_CHARS)}, {"role": "user", "content": "年假"}]}),
    ("/knowledge_base/local_kb/k/chat/completions", {"messages": [
        {"role": "user", "content": too_long(limits.QUESTION_MAX_CHARS)}]}),
    ("/v1/embeddings", {"input": ["x"] * (limits.EMBED_INPUTS_MAX + 1)}),
    ("/v1/embeddings", {"input": too_long(limits.EMBED_INPUT_MAX_CHARS)}),
    ("/v1/embeddings", {"input": ["年" * limits.EMBED_INPUT_MAX_CHARS] * (
        limits.EMBED_TOTAL_MAX_CHARS // limits.EMBED_INPUT_MAX_CHARS + 1)}),
    ("/api/chat", {"mode": "kb", "kbs": ["k"], "messages": [{"role": "user", "content": too_long(
        limits.QUESTION_MAX_CHARS)}]}),
    ("/api/conversations", {"title": too_long(limits.TITLE_MAX_CHARS)}),
    ("/api/kbs", {"name": too_long(limits.KB_NAME_MAX_CHARS)}),
    ("/knowledge_base/create_knowledge_base", {"knowledge_base_name": too_long(limits.KB_NAME_MAX_CHARS)}),
    ("/knowledge_base/update_info", {"knowledge_base_name": "k", "kb_info": too_long(limits.DESCRIPTION_MAX_CHARS)}),
    ("/knowledge_base/delete_docs", {"knowledge_base_name": "k", "file_names": ["a.md"] * (limits.FILE_NAMES_MAX + 1)}),
    ("/knowledge_base/update_docs", {"knowledge_base_name": "k",
                                     "file_names": [too_long(limits.FILE_NAME_MAX_CHARS)]}),
    ("/chat/feedback", {"message_id": "a", "score": 1, "reason": too_long(limits.REASON_MAX_CHARS)}),
]


@pytest.mark.parametrize("path,body", OVER_LIMIT, ids=[f"{i}:{p}" for i, (p, _) in enumerate(OVER_LIMIT)])
def test_every_text_field_has_a_limit_answered_at_once(raw: httpx.Client, zk: Zhiku, path: str,
                                                        body: dict[str, Any]) -> None:
    """Refused by the request model (413/422; /v1 answers validation with 400, as OpenAI does), i.e.
    before any route code runs: nothing is embedded, searched or stored. (Tests do not time things:
    bench/ measures; the figures are in the hardening notes.)"""
    zk.create_kb("k")
    r = raw.post(path, json=body)
    assert r.status_code in (413, 400 if path.startswith("/v1/") else 422), (path, r.status_code, r.text[:300])
    assert zk.list_files("k") == [] and zk.conversations.list("local") == []


def test_json_bodies_over_the_limit_are_413_before_they_are_read(raw: httpx.Client) -> None:
    body = json.dumps({"input": "x" * limits.JSON_BODY_MAX_BYTES}).encode()
    assert_error(raw.post("/v1/embeddings", content=body, headers={"Content-Type": "application/json"}),
                 413, "too_large")


def test_limits_are_in_the_openapi_schema(raw: httpx.Client) -> None:
    schemas = raw.get("/openapi.json").json()["components"]["schemas"]
    text = json.dumps(schemas)
    for limit in (limits.QUESTION_MAX_CHARS, limits.MESSAGE_MAX_CHARS, limits.MESSAGES_MAX, limits.EMBED_INPUTS_MAX,
                  limits.KB_NAME_MAX_CHARS, limits.FILE_NAME_MAX_CHARS, limits.DESCRIPTION_MAX_CHARS):
        assert f'"maxLength": {limit}' in text or f'"maxItems": {limit}' in text, limit
    assert schemas["SearchRequest"]["properties"]["query"]["maxLength"] == limits.QUESTION_MAX_CHARS
    assert schemas["AskRequest"]["properties"]["question"]["maxLength"] == limits.QUESTION_MAX_CHARS
    assert schemas["KBCreate"]["properties"]["name"]["maxLength"] == limits.KB_NAME_MAX_CHARS
