"""The 7 MB static embedding model (tokenlearn-static-model): fast, weak.

A test double and a "lite" profile; it declares no license, so it is never the
shipped default."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from zhiku.embed.base import normalise
from zhiku.errors import MissingDependency


class StaticEmbedder:
    model_id = "static:tokenlearn-10k-64d"
    dimensions = 64
    score_range = (0.2, 0.9)

    def __init__(self, batch_size: int = 1024) -> None:
        try:
            import static_model
        except ImportError:
            raise MissingDependency("tokenlearn-static-model", extra="lite", purpose="the static embedder") from None
        self._encode = static_model.get_embeddings
        self._batch = batch_size

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        parts = [np.asarray(self._encode(list(texts[i : i + self._batch])), dtype=np.float32)
                 for i in range(0, len(texts), self._batch)]
        return normalise(np.vstack(parts))

    def embed_query(self, text: str) -> np.ndarray:
        return normalise(np.asarray(self._encode([text]), dtype=np.float32))[0]
