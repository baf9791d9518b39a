"""Detection of the model servers running on this machine (issue 21, item 2), each kind against a
real stand-in on a free port: what answers as that kind is found with its models; a port where
nothing listens is nothing; one where something else answers is a problem, never a server."""

from __future__ import annotations

import pytest

from zhiku.errors import NotFound
from zhiku.llm.detect import detect, model_name, pick
from zhiku.testing.llm_servers import ChatServer, free_port
from zhiku.testing.local_servers import LocalModelServer


@pytest.mark.parametrize(("stand_in", "kind", "asked"), [
    ("ollama", "ollama", "/api/tags"), ("llamacpp", "llamacpp", "/v1/models"),
    ("llamacpp-old", "llamacpp", "/props"), ("vllm", "vllm", "/v1/models")])
def test_each_kind_found_with_its_models(stand_in: str, kind: str, asked: str) -> None:
    with LocalModelServer(stand_in, ("m-1.gguf",)) as server:
        result = detect({kind: server.port})
    assert [(f.kind, f.port, f.base_url, f.models) for f in result.found] == [
        (kind, server.port, f"http://127.0.0.1:{server.port}/v1", ["m-1.gguf"])]
    assert asked in server.paths and result.problems == []


def test_an_openai_server_on_lm_studio_port_and_nothing_elsewhere() -> None:
    with ChatServer(models=("qwen2.5-7b-instruct",)) as lmstudio:
        quiet = free_port()
        result = detect({"lmstudio": lmstudio.port, "xinference": quiet})
    assert [(f.label, f.models) for f in result.found] == [("LM Studio", ["qwen2.5-7b-instruct"])]
    assert result.probed == {"lmstudio": lmstudio.port, "xinference": quiet} and result.problems == []


def test_something_else_on_the_port_is_not_a_server() -> None:
    with LocalModelServer("garbage") as other, LocalModelServer("vllm") as vllm:
        # an OpenAI-compatible server is not taken for Ollama: Ollama has its own /api/tags
        result = detect({"ollama": vllm.port, "llamacpp": other.port, "vllm": other.port})
    assert result.found == []
    assert len(result.problems) == 3 and all("answers, but not as" in p for p in result.problems)


def test_nothing_to_probe_and_the_names_added() -> None:
    assert detect({}).found == []
    assert model_name("vllm", "Qwen/Qwen2.5-7B-Instruct") == "vllm-Qwen-Qwen2.5-7B-Instruct"


def test_pick_refuses_what_is_not_there(home) -> None:  # type: ignore[no-untyped-def]
    from zhiku import load_settings

    with LocalModelServer("ollama", ()) as empty:
        settings = load_settings(home=home, overrides={"llm": {"probe_ports": {"ollama": empty.port}}}, environ={})
        with pytest.raises(NotFound, match="serves no model yet"):
            pick(settings, "ollama")
