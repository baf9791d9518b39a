"""The readers-writer lock of the vector index: readers together, a writer alone, a waiting writer first."""

from __future__ import annotations

import threading

import numpy as np

from zhiku.store.locks import ReadWriteLock
from zhiku.store.vectors import FaissVectorIndex


def _in_thread(fn) -> threading.Thread:  # type: ignore[no-untyped-def]
    t = threading.Thread(target=fn, daemon=True)
    t.start()
    return t


def test_readers_share_and_a_writer_waits_for_them() -> None:
    lock = ReadWriteLock()
    inside, release = threading.Event(), threading.Event()
    wrote = threading.Event()

    def reader() -> None:
        with lock.reading():
            inside.set()
            release.wait(10)

    def writer() -> None:
        with lock.writing():
            wrote.set()

    r = _in_thread(reader)
    assert inside.wait(10)
    second = threading.Event()

    def second_reader() -> None:
        with lock.reading():
            second.set()

    _in_thread(second_reader).join(10)
    assert second.is_set()  # another reader got in while the first one reads
    w = _in_thread(writer)
    assert not wrote.wait(0.3)  # the writer waits while a reader reads
    release.set()
    r.join(10)
    w.join(10)
    assert wrote.is_set()


def test_a_waiting_writer_goes_before_new_readers() -> None:
    lock = ReadWriteLock()
    order: list[str] = []
    first_in, release = threading.Event(), threading.Event()

    def first_reader() -> None:
        with lock.reading():
            first_in.set()
            release.wait(10)

    def writer() -> None:
        with lock.writing():
            order.append("writer")

    def late_reader() -> None:
        with lock.reading():
            order.append("late reader")

    r = _in_thread(first_reader)
    assert first_in.wait(10)
    w = _in_thread(writer)
    while not lock._writers_waiting:  # the writer is queued
        threading.Event().wait(0.01)
    late = _in_thread(late_reader)
    assert not late.join(0.3) and order == []  # the late reader does not slip in ahead of the writer
    release.set()
    for t in (r, w, late):
        t.join(10)
    assert order == ["writer", "late reader"]


def test_searches_run_while_vectors_come_and_go() -> None:
    rng = np.random.default_rng(7)
    index = FaissVectorIndex(64)
    base = rng.standard_normal((2000, 64)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    index.add(np.arange(2000), base)
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: set[int] = set()

    def search() -> None:
        try:
            while not stop.is_set():
                seen.update(cid for cid, _ in index.search(base[int(rng.integers(2000))], 10))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    searchers = [_in_thread(search) for _ in range(4)]
    for start in range(2000, 3000, 100):  # a writer adds and removes batches meanwhile
        extra = rng.standard_normal((100, 64)).astype(np.float32)
        index.add(np.arange(start, start + 100), extra / np.linalg.norm(extra, axis=1, keepdims=True))
        index.remove(range(start - 2000, start - 1900))
    stop.set()
    for t in searchers:
        t.join(10)
    assert not errors
    assert seen and seen <= set(range(3000))
    assert len(index) == 2000 and set(index.ids().tolist()) == set(range(1000, 3000))
