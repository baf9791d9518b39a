"""`zhiku doctor` (issue 21, item 8): what is configured, what answers (the configured model
servers and web-search engine, asked for real on 127.0.0.1), what is missing, each with its fix."""

from __future__ import annotations

import json

import pytest

from zhiku.testing.llm_servers import ChatServer, free_port
from zhiku.testing.search_server import SearchServer


def by_name(out: str) -> dict[str, dict[str, str]]:
    report = json.loads(out)
    return {c["name"]: c for c in report["checks"]}


def test_a_fresh_home_is_told_what_is_off_and_how_to_switch_it_on(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ZHIKU_LLM__DETECT_LOCAL", "false")
    r = cli("doctor", "--json")
    assert r.code == 0, r.err
    checks = by_name(r.out)
    assert checks["home"]["status"] == "ok" and "SQLite" in checks["home"]["detail"]
    assert checks["embedder static"]["status"] == "ok"
    assert checks["chat model"]["status"] == "off" and "zhiku model pull" in checks["chat model"]["fix"]
    assert checks["web search"]["status"] == "off" and "websearch.engine" in checks["web search"]["fix"]
    for name in ("fast encoder", "OCR", "local GGUF models", "ONNX models", "chromium (tests)"):
        assert checks[name]["status"] in ("ok", "off", "missing")
    for c in checks.values():  # whatever is not working says how to fix it
        assert c["status"] in ("ok", "off") or c["fix"], c
    text = cli("doctor")
    assert text.code == 0 and "Configured" in text.out and "fix: add a model server" in text.out


def test_configured_servers_are_asked_and_reported_reachable(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    with ChatServer(models=("qwen-test",)) as chat, SearchServer() as search:
        for key, value in {"LLM__DETECT_LOCAL": "false", "LLM__DEFAULT": "office",
                           "LLM__MODELS__OFFICE__BASE_URL": chat.base_url, "LLM__MODELS__OFFICE__MODEL": "qwen-test",
                           "WEBSEARCH__ENGINE": "searxng", "WEBSEARCH__BASE_URL": search.base}.items():
            monkeypatch.setenv(f"ZHIKU_{key}", value)
        r = cli("doctor", "--json")
    assert r.code == 0, r.out + r.err
    checks = by_name(r.out)
    model = checks["chat model office (default)"]
    assert model["status"] == "ok" and model["group"] == "reachable" and "qwen-test" in model["detail"]
    assert checks["web search"]["status"] == "ok" and "searxng" in checks["web search"]["detail"]
    assert json.loads(r.out)["ok"] is True


def test_servers_that_do_not_answer_fail_the_doctor_with_the_fix(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    dead = f"http://127.0.0.1:{free_port()}"
    for key, value in {"LLM__DETECT_LOCAL": "false", "LLM__MODELS__OFFICE__BASE_URL": dead + "/v1",
                       "LLM__MODELS__OFFICE__MODEL": "qwen", "WEBSEARCH__ENGINE": "searxng",
                       "WEBSEARCH__BASE_URL": dead}.items():
        monkeypatch.setenv(f"ZHIKU_{key}", value)
    r = cli("doctor")
    assert r.code == 1
    assert "unreachable" in r.out and "start that server" in r.out and "start the engine" in r.out
    assert "2 configured parts not working" in r.out
    checks = by_name(cli("doctor", "--json").out)
    assert checks["chat model office"]["status"] == checks["web search"]["status"] == "unreachable"


def test_the_server_is_reported_running_not_running_or_something_else(
        cli, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from zhiku import Zhiku, load_settings
    from zhiku.api import create_app
    from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
    from zhiku.testing.live_server import LiveServer

    monkeypatch.setenv("ZHIKU_LLM__DETECT_LOCAL", "false")
    monkeypatch.setenv("ZHIKU_SERVER__PORT", str(free_port()))
    server = by_name(cli("doctor", "--json").out)["server"]
    assert server["status"] == "off" and "not running" in server["detail"]

    zk = Zhiku(load_settings(home=tmp_path / "served", overrides={"embedding": {"default": "static"}}, environ={}))
    live = LiveServer(create_app(zk), bind("127.0.0.1", 0), KEEP_ALIVE_S)
    try:
        monkeypatch.setenv("ZHIKU_SERVER__PORT", live.url.rsplit(":", 1)[1])
        server = by_name(cli("doctor", "--json").out)["server"]
        assert server["status"] == "ok" and live.url in server["detail"]
    finally:
        live.stop()
        zk.close()

    with ChatServer() as other:  # something else on the port: not zhiku
        monkeypatch.setenv("ZHIKU_SERVER__PORT", other.base_url.split(":")[2].split("/")[0])
        r = cli("doctor", "--json")
    server = by_name(r.out)["server"]
    assert r.code == 1 and server["status"] == "error" and "server.port" in server["fix"]
