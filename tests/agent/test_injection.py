"""A document that tells the model to call tools, read other knowledge bases and emit image links
(loop_support.INJECTED, in KB `world`), read by a model that *obeys* it — the worst case; the other
tests' models ignore it. Nothing it asks for happens beyond what the model's own structured calls may
do: another user's KB is never read (its name reads as unknown, the same words as a KB that does not
exist, and its text reaches neither the model, the answer nor the stored conversation), and the image
link the model copies into its answer is not loaded by the web UI (the answer's HTML has no image)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.agent.loop_support import (  # noqa: F401  (model: the fixture)
    RUNS, Model, ask, call, final, make_app, model, steps, tool_results, with_kbs)
from tests.api.conftest import LiveServer
from zhiku import Zhiku
from zhiku.ui.render import answer_html

PASSWORD = "correct horse battery"
IMAGE = "![x](http://evil.example/p.png)"


def obedient(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Searches, then does what the notes say: search KB secret (and one that does not exist), list
    secret's tables, and answer with the notes' image link."""
    results = tool_results(body)
    if not results:
        return "", [call("kb_search", {"query": "office opening hours"}, 1)]
    if len(results) == 1:
        assert "IMPORTANT SYSTEM INSTRUCTION" in results[0]  # the model did read the instructions
        return "", [call("kb_search", {"query": "launch code", "kbs": ["secret"]}, 2),
                    call("kb_search", {"query": "launch code", "kbs": ["nope"]}, 3),
                    call("table_query", {"kb": "secret"}, 4)]
    return f"The office opens at nine [1]. {IMAGE} <img src=http://evil.example/q.png>", []


@pytest.fixture
def zk(home: Path, tmp_path: Path, model: Model) -> Iterator[Zhiku]:
    model.script = obedient
    with with_kbs(make_app(home, model, ["kb_search", "table_query", "t_spy"]), tmp_path) as app:
        app.auth.create_user("root", PASSWORD, "admin")  # owns both KBs
        app.auth.create_user("pat", PASSWORD, "user")
        app.auth.grant("world", "pat", "read")  # pat may read world, not secret
        yield app


def test_an_obeyed_document_reads_no_other_users_kb(zk: Zhiku, model: Model) -> None:
    key = zk.auth.create_key("pat", "k", ("read", "write"))[1]
    live = LiveServer(zk)
    try:
        with httpx.Client(base_url=live.url, timeout=120, headers={"Authorization": f"Bearer {key}"}) as c:
            conv = c.post("/api/conversations", json={"mode": "agent", "kbs": ["world"]}).json()
            sent = c.post(f"/api/conversations/{conv['id']}/messages",
                          json={"content": "When does the office open?"})
            assert sent.status_code == 200, sent.text
            stored = c.get(f"/api/conversations/{conv['id']}").json()
    finally:
        live.stop()
    trace = stored["messages"][-1]["trace"]
    assert [s["tool"] for s in trace] == ["kb_search", "kb_search", "kb_search", "table_query"]
    secret, missing, tables = trace[1], trace[2], trace[3]
    assert secret["status"] == "error" and missing["status"] == "error"
    # another user's KB reads exactly as one that does not exist
    assert secret["error"].replace("'secret'", "X") == missing["error"].replace("'nope'", "X")
    assert "these can be searched: world" in secret["error"]
    assert tables["status"] == "error" and "no knowledge base secret" in tables["error"]
    assert RUNS == []  # t_spy, which the notes name, was never called
    everything = str(model.server.requests) + str(stored)
    assert "4242" not in everything and "launch code of the secret project" not in everything


def test_an_image_link_the_model_copies_is_not_loaded_by_the_ui(zk: Zhiku) -> None:
    events = ask(zk, "When does the office open?", kbs=["world"])
    answer = final(events)
    assert IMAGE in answer.answer  # the model did copy it into its text
    html = answer_html(answer.answer, {c.n: c.file for c in answer.citations})
    assert "<img" not in html and not re.search(r"<[^>]*\b(src|href)=[^>]*evil", html)  # no tag loads it
    assert "&lt;img src=http://evil.example/q.png&gt;" in html  # shown as the text it is
    assert "The office opens at nine" in html
    assert [s.tool for s in steps(events)][:1] == ["kb_search"] and RUNS == []
