"""Kill a process in the middle of saving an index, to check the save is atomic.

The child (``python -m zhiku.testing.contracts.crash KIND REF PATH DIMENSIONS``) builds two
different indexes, A and B, of the backend ``REF`` (``module:attribute``), then saves A, B, A, B...
to ``PATH`` until it is killed with SIGKILL at a moment the parent picks. Whatever the moment,
``PATH`` must then open as exactly A or exactly B.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

VECTORS = 4000  # per state: big enough that a save takes a while, small enough to build fast
DOCS = 1500


def backend_ref(backend: Any) -> str:
    return f"{backend.__module__}:{backend.__qualname__}"


def _resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def vector_states(dimensions: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """States A and B of a vector index: (ids, unit vectors), disjoint ids."""
    rng = np.random.default_rng(7)
    out = []
    for first in (0, VECTORS):
        vecs = rng.standard_normal((VECTORS, dimensions)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        out.append((np.arange(first, first + VECTORS, dtype=np.int64), vecs))
    return out


def lexical_states() -> list[tuple[list[int], list[list[str]]]]:
    """States A and B of a lexical index: (ids, token lists), disjoint ids and vocabularies."""
    out = []
    for first, tag in ((0, "a"), (DOCS, "b")):
        ids = list(range(first, first + DOCS))
        out.append((ids, [[f"{tag}{i % 97}", f"{tag}{i % 13}", f"{tag}word", f"{tag}{i}"] for i in ids]))
    return out


def _child(kind: str, ref: str, path: Path, dimensions: int) -> None:
    backend = _resolve(ref)
    indexes = []
    if kind == "vector":
        for ids, vecs in vector_states(dimensions):
            index = backend(dimensions)
            index.add(ids, vecs)
            indexes.append(index)
    else:
        for doc_ids, tokens in lexical_states():
            index = backend()
            index.add(doc_ids, tokens)
            indexes.append(index)
    indexes[0].save(path)
    indexes[1].save(path)
    print("ready", flush=True)
    n = 0
    while True:
        indexes[n % 2].save(path)
        n += 1


def kill_during_saves(kind: str, backend: Any, path: Path, dimensions: int, delay_s: float) -> None:
    """Start the child, let it save for ``delay_s`` after its first two saves, then SIGKILL it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen(
        [sys.executable, "-m", "zhiku.testing.contracts.crash", kind, backend_ref(backend), str(path), str(dimensions)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if line.strip() != "ready":
            child.kill()
            raise AssertionError(f"the saving process did not start: {line!r} {child.communicate()[1][-2000:]}")
        time.sleep(delay_s)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.communicate()


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
