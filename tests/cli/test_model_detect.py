"""`zhiku model detect [--add]`, `zhiku model embedder`, `zhiku model web-search` (issue 21, item 2):
real stand-in Ollama and llama.cpp servers on the probe ports of the home's settings file."""

from __future__ import annotations

from pathlib import Path

import yaml

from zhiku.testing.llm_servers import free_port
from zhiku.testing.local_servers import LocalModelServer


def write_config(home: Path, ports: dict[str, int]) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.yaml"
    ports_text = yaml.safe_dump(ports, default_flow_style=True)
    config.write_text("# mine\nllm:\n  detect_local: false\n  probe_ports: " + ports_text, encoding="utf-8")
    return config


def test_detect_lists_then_adds(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    with LocalModelServer("ollama", ("qwen2.5:0.5b", "llama3.2:1b")) as ollama, \
            LocalModelServer("llamacpp", ("smol.gguf",)) as llamacpp, LocalModelServer("garbage") as garbage:
        config = write_config(home, {"ollama": ollama.port, "llamacpp": llamacpp.port,
                                     "vllm": garbage.port, "lmstudio": free_port()})
        r = cli("model", "detect")
        assert r.code == 0, r.err
        assert f"Ollama on port {ollama.port}" in r.out and "llama3.2:1b, qwen2.5:0.5b" in r.out
        assert f"llama.cpp server on port {llamacpp.port}" in r.out and "smol.gguf" in r.out
        assert f"port {garbage.port} answers, but not as vLLM" in r.err
        assert "models" not in (yaml.safe_load(config.read_text())["llm"])  # listing adds nothing

        r = cli("model", "detect", "--add", "--model", "qwen2.5:0.5b", "--default")
        assert r.code == 0, r.err
        assert "added chat model ollama-qwen2.5:0.5b, the default" in r.out
        data = yaml.safe_load(config.read_text())
        assert data["llm"]["models"] == {"ollama-qwen2.5:0.5b": {"type": "openai", "base_url": ollama.base_url,
                                                                 "model": "qwen2.5:0.5b"}}
        assert data["llm"]["default"] == "ollama-qwen2.5:0.5b" and config.read_text().startswith("# mine\n")

        r = cli("model", "detect", "--add", "--model", "nope")
        assert r.code == 1 and "no model 'nope'" in r.err

        r = cli("model", "detect", "--add")  # every model found
        assert r.code == 0, r.err
        assert set(yaml.safe_load(config.read_text())["llm"]["models"]) == {
            "ollama-qwen2.5:0.5b", "ollama-llama3.2:1b", "llamacpp-smol.gguf"}


def test_nothing_found(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    write_config(home, {"ollama": port})
    r = cli("model", "detect", "--add")
    assert r.code == 1 and f"no model server found on this machine (looked at ollama :{port})" in r.err


def test_embedder_and_web_search(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    config = write_config(home, {})
    r = cli("model", "embedder", "static")
    assert r.code == 0 and "existing ones keep their embedder" in r.out, r.err
    assert yaml.safe_load(config.read_text())["embedding"]["default"] == "static"
    r = cli("model", "embedder", "nope")
    assert r.code != 0 and "unknown embedder 'nope'" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli("model", "web-search", "searxng")
    assert r.code != 0 and "searxng needs the URL" in r.err
    r = cli("model", "web-search", "altavista")
    assert r.code != 0 and "unknown search engine 'altavista'" in r.err
    r = cli("model", "web-search", "searxng", "--url", "http://127.0.0.1:8888")
    assert r.code == 0, r.err
    data = yaml.safe_load(config.read_text())
    assert data["websearch"] == {"engine": "searxng", "base_url": "http://127.0.0.1:8888"}
    assert data["embedding"]["default"] == "static" and config.read_text().startswith("# mine\n")
    r = cli("model", "web-search", "none")
    assert r.code == 0 and "web search is off" in r.out
