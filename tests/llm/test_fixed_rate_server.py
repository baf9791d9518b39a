"""The stand-in chat server can stream at a fixed rate in pieces of a chosen size (benchmarks use it)."""

from __future__ import annotations

import json

import httpx

from zhiku.testing.llm_servers import ChatServer


def test_streams_the_reply_in_pieces_of_the_chosen_size() -> None:
    with ChatServer(reply="知识库问答", interval=0.001, piece=2) as server:
        body = {"model": "ok", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        with httpx.stream("POST", server.base_url + "/chat/completions", json=body, timeout=10) as r:
            events = [json.loads(line[6:]) for line in r.iter_lines()
                      if line.startswith("data: ") and line != "data: [DONE]"]
    pieces = [e["choices"][0]["delta"].get("content") for e in events]
    assert pieces == ["知识", "库问", "答", None]
