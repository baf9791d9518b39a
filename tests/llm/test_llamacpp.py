"""Real llama.cpp with SmolLM2-135M: in-process, and its OpenAI-compatible server as a remote
backend through the same client users use. Skipped visibly without `zhiku[local]`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from zhiku.errors import Cancelled, ContextTooLong
from zhiku.llm.base import CallControl, Timeouts, complete
from zhiku.schema import AnswerRequest
from zhiku.testing.llm_servers import free_port

llama_cpp = pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed (pip install 'zhiku[local]'): llama.cpp tests skipped")

pytestmark = pytest.mark.slow
MSGS = [{"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture(scope="module")
def local_model(gguf: Path):  # type: ignore[no-untyped-def]
    from zhiku.llm.local import LlamaCppModel

    model = LlamaCppModel("smol", gguf, context_window=1024, max_tokens=24, temperature=0.0, threads=2)
    yield model
    model.close()


def test_in_process_generation_streams_with_usage(local_model) -> None:  # type: ignore[no-untyped-def]
    deltas = list(local_model.stream(MSGS))
    text = "".join(d.text for d in deltas)
    assert text.strip() and deltas[-1].finish_reason in ("stop", "length")
    assert deltas[-1].usage.prompt_tokens > 5 and deltas[-1].usage.completion_tokens > 0
    assert local_model.count_tokens("hello world") >= 2


def test_in_process_cancel_and_context(local_model) -> None:  # type: ignore[no-untyped-def]
    control = CallControl(Timeouts())
    control.cancel.set()
    with pytest.raises(Cancelled):
        complete(local_model, MSGS, control=control)
    with pytest.raises(ContextTooLong):
        complete(local_model, [{"role": "user", "content": "word " * 3000}])


def test_kb_chat_with_a_pulled_local_model(home: Path, gguf: Path, kb_files: Path) -> None:
    from zhiku import Zhiku, load_settings

    settings = load_settings(home=home, overrides={
        "embedding": {"default": "static"},
        "llm": {"detect_local": False, "models": {"smol": {"type": "llamacpp", "path": str(gguf),
                                                           "context_window": 2048, "max_tokens": 32}}}})
    with Zhiku(settings) as app:
        app.create_kb("kb")
        app.add_files("kb", [kb_files])
        answer = app.answer(AnswerRequest(mode="kb", kbs=["kb"], question="What is the capital of France?",
                                          model="smol"))
        app.close_chat_models()
    assert answer.mode == "llm" and answer.model == "smol" and answer.answer.strip()
    assert all(1 <= c.n <= 5 for c in answer.citations)


@pytest.fixture(scope="module")
def llama_server(gguf: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "1024", "--n_threads", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the llama.cpp server did not start")
            time.sleep(0.3)
        yield url
    finally:
        os.kill(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, 9)
            proc.wait()


def test_llama_cpp_server_as_remote_backend(llama_server: str) -> None:
    from zhiku.config import ChatModelConfig, load_settings
    from zhiku.llm.registry import build_model

    cfg = ChatModelConfig(preset="llamacpp-server", base_url=llama_server, max_tokens=24, temperature=0)
    model = build_model("remote-smol", cfg, load_settings(home="/tmp/unused-zhiku-home"))
    try:
        assert model.ping() is None
        reply = complete(model, MSGS)
        assert reply.text.strip() and reply.finish_reason in ("stop", "length")
    finally:
        model.close()
