"""`zhiku model add|test|default|remove` (issue 21, item 2): an OpenAI-compatible server tested,
added with its key from stdin, made the default and removed, in the home's settings file (comments
kept); against a real stand-in server on 127.0.0.1."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from zhiku.testing.llm_servers import ChatServer, free_port


def test_model_add_default_remove(cli, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    config = home / "config.yaml"
    home.mkdir(parents=True, exist_ok=True)
    config.write_text("# mine\nllm:\n  detect_local: false\n", encoding="utf-8")
    with ChatServer(models=("qwen",)) as llm:
        r = cli("model", "test", llm.base_url)
        assert r.code == 0 and r.out.split() == ["qwen"], r.err
        monkeypatch.setattr("sys.stdin", io.StringIO("sk-from-stdin\n"))
        r = cli("model", "add", "local", "--url", llm.base_url, "--model", "qwen", "--api-key-stdin", "--default")
        assert r.code == 0, r.err
        assert "sk-from-stdin" not in r.out + r.err
        data = yaml.safe_load(config.read_text())
        assert data["llm"]["models"]["local"]["api_key"] == "sk-from-stdin" and data["llm"]["default"] == "local"
        assert config.read_text().startswith("# mine\n")
        r = cli("models", "--no-check")
        assert "local" in r.out and "(default)" in r.out

        r = cli("model", "add", "other", "--url", llm.base_url, "--model", "missing")
        assert r.code == 0 and "does not list 'missing'" in r.err  # a warning, still added

    r = cli("model", "add", "down", "--url", f"http://127.0.0.1:{free_port()}/v1", "--model", "m")
    assert r.code != 0 and "cannot reach" in r.err and len(r.err.strip().splitlines()) == 1
    assert "down" not in yaml.safe_load(config.read_text())["llm"]["models"]  # nothing half-written

    r = cli("model", "default", "none")
    assert r.code == 0 and yaml.safe_load(config.read_text())["llm"]["default"] is None
    r = cli("model", "remove", "local")
    assert r.code == 0 and "local" not in yaml.safe_load(config.read_text())["llm"]["models"]
    r = cli("model", "remove", "local")
    assert r.code != 0 and "no configured chat model 'local'" in r.err
