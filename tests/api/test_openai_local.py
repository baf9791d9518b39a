"""/v1 with an in-process llama.cpp model (SmolLM2): what it honours (stop, seed) reaches it, what it
cannot (tools, response_format) is refused by name — never ignored. Skipped visibly without
`zhiku[local]` or the SmolLM2 GGUF."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import openai
import pytest

from tests.api.conftest import OVERRIDES, LiveServer
from tests.llm.conftest import smollm2_gguf
from zhiku import Zhiku, load_settings

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'zhiku[local]')")
pytestmark = pytest.mark.slow
Q = [{"role": "user", "content": "Count from one to ten in words."}]


@pytest.fixture
def oai(home: Path) -> Iterator[openai.OpenAI]:
    overrides = {**OVERRIDES, "llm": {"detect_local": False, "models": {"smol": {
        "type": "llamacpp", "path": str(smollm2_gguf()), "context_window": 1024, "max_tokens": 24,
        "temperature": 0.8}}}}
    with Zhiku(load_settings(home=home, overrides=overrides, environ={})) as zk:
        server = LiveServer(zk)
        try:
            with openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120) as c:
                yield c
        finally:
            server.stop()


def test_local_model_honours_seed_and_stop_and_refuses_tools(oai: openai.OpenAI) -> None:
    a = oai.chat.completions.create(model="smol", messages=Q, seed=7, temperature=1.0)
    b = oai.chat.completions.create(model="smol", messages=Q, seed=7, temperature=1.0)
    assert a.choices[0].message.content == b.choices[0].message.content  # the same seed, the same sample
    text = a.choices[0].message.content or ""
    words = text.split()
    if len(words) > 2:
        stopped = oai.chat.completions.create(model="smol", messages=Q, seed=7, temperature=1.0, stop=[words[2]])
        assert words[2] not in (stopped.choices[0].message.content or "")
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    for kwargs, param in (({"tools": [tool]}, "tools"), ({"response_format": {"type": "json_object"}},
                                                          "response_format")):
        with pytest.raises(openai.BadRequestError) as caught:
            oai.chat.completions.create(model="smol", messages=Q, **kwargs)  # type: ignore[call-overload]
        assert caught.value.param == param and "smol" in caught.value.message
