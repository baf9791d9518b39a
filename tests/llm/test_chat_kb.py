"""KB chat: prompts by language, context budget, grounding, citation check, extractive fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.llm.conftest import app_with_model
from zhiku import Zhiku, load_settings
from zhiku.chat.budget import fit
from zhiku.chat.citations import StreamChecker, check
from zhiku.chat.prompts import render, template
from zhiku.errors import ContextTooLong, NotFound
from zhiku.llm.base import estimate_tokens
from zhiku.schema import AnswerRequest, Delta, Final, Notice
from zhiku.testing.llm_servers import ChatServer


def test_prompt_files_exist_in_both_languages() -> None:
    for name in ("kb_system", "kb_user", "source", "no_answer", "weak_warning", "no_sources"):
        assert template("zh", name).strip() and template("en", name).strip()
    assert "[1]" in render("zh", "kb_system") and "[1]" in render("en", "kb_system")
    # braces inside a source never break the template
    assert "{x}" in render("en", "kb_user", sources="code {x}", question="q?")


def test_citations_checked_against_sources() -> None:
    text, used = check("A [1]. B [2, 9]. C [7]. D【3】.", {1, 2, 3})
    assert text == "A [1]. B [2]. C. D[3]." and used == [1, 2, 3]
    c = StreamChecker({1})
    out = "".join(c.feed(x) for x in ["X ", "[", "4", "] y [", "1", "]"]) + c.flush()
    assert out == "X y [1]" and c.used == [1]


def _hist(n: int, size: int = 200) -> list:
    out = []
    for i in range(n):
        out += [{"role": "user", "content": f"q{i} " + "x" * size}, {"role": "assistant", "content": f"a{i} " + "y" * size}]
    return out


def test_budget_drops_oldest_turns_and_whole_sources() -> None:
    sources = [(f"[{i}] From: f", "Sentence one. " * 40) for i in range(1, 6)]
    f = fit(estimate_tokens, 1200, 200, "system", lambda s: f"S:\n{s}\nQ: q", sources, _hist(6), 0.3)
    assert f.prompt_tokens <= 1200 - 200
    assert f.history and f.history[-1]["content"].startswith("a5")  # newest kept
    assert f.dropped_turns > 0 and not any(m["content"].startswith("q0") for m in f.history)
    assert all(s.startswith(f"[{i}] ") for i, s in enumerate(f.sources, 1))  # whole, in order
    assert f.dropped_sources > 0


def test_budget_shortens_first_source_at_sentence_and_refuses_impossible() -> None:
    sources = [("[1] From: f", "This is a sentence. " * 400)]
    f = fit(estimate_tokens, 600, 100, "sys", lambda s: s, sources, [], 0.3)
    assert f.sources[0].startswith("[1] From: f\n") and f.sources[0].endswith(".…")
    with pytest.raises(ContextTooLong):
        fit(estimate_tokens, 300, 100, "s" * 2000, lambda s: s, sources, [], 0.3)


def test_kb_chat_answers_from_numbered_sources(home: Path, kb_files: Path) -> None:
    with ChatServer(reply="长城全长两万一千多千米[1]，见资料 [3][1]。", models=("ok",)) as server:
        app = app_with_model(home, server.base_url)
        app.create_kb("kb")
        app.add_files("kb", [kb_files])
        answer = app.answer(AnswerRequest(mode="kb", kbs=["kb"], question="长城有多长？"))
        sent = server.requests[-1]["messages"]
        app.close_chat_models()
        app.close()
    assert sent[0]["role"] == "system" and "资料" in sent[0]["content"]  # the zh prompt
    assert "[1] 来源：guide.md" in sent[-1]["content"] and "长城有多长" in sent[-1]["content"]
    assert answer.mode == "llm" and answer.found
    assert "[3]" not in answer.answer and "[1]" in answer.answer  # source 3 was never given
    assert [c.n for c in answer.citations] == [1]


def test_english_question_gets_english_prompt_and_history(home: Path, kb_files: Path) -> None:
    with ChatServer(reply="Paris is the capital [1].", models=("ok",)) as server:
        app = app_with_model(home, server.base_url)
        app.create_kb("kb")
        app.add_files("kb", [kb_files])
        history = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi!"}]
        items = list(app.answer_stream(AnswerRequest(mode="kb", kbs=["kb"], question="What is the capital of France?",
                                                     history=history)))
        sent = server.requests[-1]["messages"]
        app.close()
    assert "Answer only from the numbered sources" in sent[0]["content"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    final = items[-1]
    assert isinstance(final, Final)
    assert "".join(x.shown for x in items if isinstance(x, (Delta, Notice))) == final.answer.answer == "Paris is the capital [1]."


def test_strict_grounding_says_no_answer_without_calling_the_model(home: Path, kb_files: Path) -> None:
    with ChatServer(models=("ok",)) as server:
        app = app_with_model(home, server.base_url)
        app.create_kb("kb")
        app.add_files("kb", [kb_files])
        answer = app.answer(AnswerRequest(mode="kb", kbs=["kb"], question="量子色动力学的渐近自由是什么？"))
        app.close()
    assert not answer.found and answer.answer == render("zh", "no_answer") and not server.requests


def test_lenient_grounding_answers_with_a_warning(home: Path, kb_files: Path) -> None:
    with ChatServer(reply="渐近自由是……", models=("ok",)) as server:
        app = app_with_model(home, server.base_url, grounding="lenient")
        app.create_kb("kb")
        app.add_files("kb", [kb_files])
        answer = app.answer(AnswerRequest(mode="kb", kbs=["kb"], question="量子色动力学的渐近自由是什么？"))
        app.close()
    assert answer.warning and answer.answer.startswith(answer.warning) and "渐近自由是" in answer.answer
    assert not answer.found and server.requests


def test_no_model_configured_falls_back_to_extractive(app: Zhiku, kb_files: Path) -> None:
    app.create_kb("kb")
    app.add_files("kb", [kb_files])
    answer = app.answer(AnswerRequest(mode="kb", kbs=["kb"], question="长城有多长？"))
    assert answer.mode == "extractive" and answer.found and "两万一千多千米" in answer.answer
    with pytest.raises(NotFound):
        app.answer(AnswerRequest(mode="kb", kbs=["kb"], question="长城有多长？", model="nope"))


def test_models_listing_and_reachability(home: Path, chat_server: ChatServer) -> None:
    settings = load_settings(home=home, overrides={"llm": {"detect_local": False, "default": "up", "models": {
        "up": {"base_url": chat_server.base_url, "model": "ok"},
        "down": {"base_url": "http://127.0.0.1:9/v1", "model": "x"},
        "ds": {"preset": "deepseek", "model": "deepseek-chat", "api_key": "k"}}}})
    with Zhiku(settings) as app:
        infos = {i.name: i for i in app.list_chat_models(check=False)}
        assert infos["ds"].target == "https://api.deepseek.com/v1" and infos["up"].default
        checked = {i.name: i for i in app.chat_models.list() if i.name != "ds"}
    assert checked["up"].reachable and not checked["down"].reachable and "refused" in checked["down"].reason


def test_detects_a_local_server(chat_server: ChatServer) -> None:
    from zhiku.llm.registry import detect_local

    found = detect_local(probes=(("ollama", chat_server.port),))
    assert list(found) == ["ollama/ok"] and found["ollama/ok"].base_url == chat_server.base_url


def test_cli_ask_with_model_and_models_command(cli, home: Path, kb_files: Path, chat_server: ChatServer) -> None:  # type: ignore[no-untyped-def]
    import os

    os.environ["ZHIKU_LLM__DETECT_LOCAL"] = "false"
    os.environ["ZHIKU_LLM__MODELS"] = f'{{"t": {{"base_url": "{chat_server.base_url}", "model": "ok"}}}}'
    try:
        assert cli("kb", "create", "kb").code == 0
        assert cli("kb", "add", "kb", str(kb_files)).code == 0
        r = cli("ask", "kb", "长城有多长？", "--model", "t")
        assert r.code == 0 and "Hello from the test server [1]." in r.out
        r = cli("models")
        assert r.code == 0 and "t" in r.out and "ok" in r.out
    finally:
        os.environ.pop("ZHIKU_LLM__DETECT_LOCAL")
        os.environ.pop("ZHIKU_LLM__MODELS")
