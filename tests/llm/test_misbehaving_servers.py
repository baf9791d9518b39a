"""Every way a model server can misbehave ends in its typed error within its timeout + 1 s,
and leaves no thread or socket behind. The server runs in another process so that only the
client's threads and sockets are counted here."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Iterator

import pytest

from zhiku.errors import BadModelResponse, Cancelled, ContextTooLong, ModelTimeout, ModelUnreachable, RateLimited
from zhiku.llm.base import CallControl, Timeouts, complete
from zhiku.llm.openai_compat import OpenAICompatModel
from zhiku.testing.llm_servers import free_port

T = Timeouts(connect=1.0, read=1.0, total=2.0)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "zhiku.testing.llm_servers"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        os.kill(proc.pid, 9)
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]


def _sockets() -> int:
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


CASES = [
    ("refused", ModelUnreachable, 0.0),
    ("hang", ModelTimeout, T.read),
    ("stall", ModelTimeout, T.read),
    ("endless", ModelTimeout, T.total),
    ("trickle", ModelTimeout, T.total),
    ("truncated", BadModelResponse, T.read),
    ("early-end", BadModelResponse, 0.0),
    ("429", RateLimited, 0.0),
    ("500", BadModelResponse, 0.0),
    ("context", ContextTooLong, 0.0),
    ("garbage", BadModelResponse, 0.0),
]


@pytest.mark.parametrize("behaviour,error,timeout", CASES, ids=[c[0] for c in CASES])
def test_typed_error_in_time_and_no_leak(server_url: str, behaviour: str, error: type, timeout: float) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1" if behaviour == "refused" else server_url
    threads, sockets = threading.active_count(), _sockets()
    model = OpenAICompatModel("flaky", url, behaviour, timeouts=T, preset="vllm")
    start = time.monotonic()
    with pytest.raises(error) as info:
        complete(model, [{"role": "user", "content": "hi"}])
    elapsed = time.monotonic() - start
    model.close()
    assert elapsed <= timeout + 1.0, f"{behaviour}: {elapsed:.2f} s"
    assert info.value.message and "Traceback" not in info.value.message
    assert threading.active_count() == threads
    assert _sockets() == sockets


def test_well_behaved_stream_and_usage(server_url: str) -> None:
    model = OpenAICompatModel("good", server_url, "ok", timeouts=T, preset="vllm")
    deltas = list(model.stream([{"role": "user", "content": "hi"}]))
    assert "".join(d.text for d in deltas) == "Hello from the test server [1]."
    assert deltas[-1].finish_reason == "stop" and deltas[-1].usage and deltas[-1].usage.prompt_tokens == 11
    model.close()


def test_cancel_from_another_thread(server_url: str) -> None:
    model = OpenAICompatModel("slow", server_url, "endless", timeouts=Timeouts(1, 5, 30))
    control = CallControl(model.timeouts)
    threading.Timer(0.5, control.cancel.set).start()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        complete(model, [{"role": "user", "content": "hi"}], control=control)
    assert time.monotonic() - start < 1.5
    model.close()


def test_closing_the_stream_closes_the_upstream_request(server_url: str) -> None:
    sockets = _sockets()
    model = OpenAICompatModel("slow", server_url, "endless", timeouts=Timeouts(1, 5, 30))
    stream = model.stream([{"role": "user", "content": "hi"}])
    assert next(stream).text
    stream.close()  # type: ignore[attr-defined]
    model.close()
    assert _sockets() == sockets
