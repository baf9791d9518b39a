"""The ReAct text protocol with a real small model: SmolLM2 through llama.cpp in-process (no OpenAI
tools), shown one worked example, calls the calculator with an ``Action`` and answers from its
``Observation`` (a reply with neither an action nor a final answer is taken as the answer: tests/agent/
test_loop.py covers that with the scripted model)."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.llm.conftest import smollm2_gguf
from zhiku import Zhiku, load_settings
from zhiku.schema import AnswerRequest, Turn

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'zhiku[local]')")
EXAMPLE = [Turn(role="user", content="What is 2 + 2? Use the calculator tool."),
           Turn(role="assistant", content='Thought: I use the calculator.\nAction: calculator\n'
                                          'Action Input: {"expression": "2 + 2"}'),
           Turn(role="user", content="Observation: 4"), Turn(role="assistant", content="Final Answer: 4")]


@pytest.fixture(scope="module")
def smol(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zhiku]:
    model: dict[str, Any] = {"type": "llamacpp", "path": str(smollm2_gguf()), "context_window": 2048,
                             "max_tokens": 48, "temperature": 0.0}
    settings = load_settings(home=tmp_path_factory.mktemp("smol") / "home", environ={}, overrides={
        "embedding": {"default": "static"}, "agent": {"tools": ["calculator"]},
        "llm": {"detect_local": False, "default": "smol", "models": {"smol": model}}})
    with Zhiku(settings) as zk:
        yield zk
        zk.close_chat_models()


@pytest.mark.slow
def test_smollm2_calls_the_calculator_through_react(smol: Zhiku) -> None:
    answer = smol.answer(AnswerRequest(mode="agent", question="What is 17 * 23? Use the calculator tool.",
                                       history=EXAMPLE))
    assert answer.trace is not None and len(answer.trace) >= 1
    step = answer.trace[0]
    assert (step.tool, step.protocol, step.status) == ("calculator", "react", "ok")
    assert "391" in step.summary and "391" in answer.answer

