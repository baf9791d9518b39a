"""``retrieval.rerank: onnx``: a cross-encoder run in-process with onnxruntime.

``retrieval.rerank_model`` is the model's folder (``zhiku model pull bge-reranker-v2-m3`` fetches
one; layout in ``zhiku.embed.onnx_runtime``): bge-reranker-v2-m3, gte-multilingual-reranker-base
or any sequence-classification graph that reads (question, passage) pairs and outputs ``logits``
of shape (pairs, 1) — or (pairs, 2), read as the second label's margin over the first. The model
is loaded once per process, although a reranker is built per question; pairs go through it
``BATCH`` at a time, truncated to the model's ``max_length``.

Their quality was not measured in this project (the weights cannot be downloaded where it is
built); ``zhiku eval`` run with ``ZHIKU_RETRIEVAL__RERANK=onnx`` measures it on your own questions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zhiku.embed.onnx_runtime import OnnxModel, load
from zhiku.errors import ConfigError
from zhiku.retrieval.fusion import Candidate

BATCH = 8


class OnnxReranker:
    needs_texts = True

    def __init__(self, model: str | None, batch_size: int = BATCH) -> None:
        self._model: OnnxModel = load(model, "retrieval.rerank_model (the onnx reranker's folder)")
        self._batch = batch_size

    def _logits(self, query: str, texts: Sequence[str]) -> np.ndarray:
        out = self._model.run(self._model.encode([query] * len(texts), list(texts)))
        logits = out.get("logits")
        if logits is None:
            logits = next(iter(out.values()))
        logits = np.asarray(logits, dtype=np.float32)
        if logits.ndim == 1:
            return logits
        if logits.ndim == 2 and logits.shape[1] == 1:
            return logits[:, 0]
        if logits.ndim == 2 and logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        raise ConfigError(f"{self._model.folder.onnx_file} outputs {logits.shape}, not one relevance logit a pair")

    def scores(self, query: str, candidates: Sequence[Candidate], texts: Sequence[str]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(texts), self._batch):
            out.extend(float(x) for x in self._logits(query, texts[start : start + self._batch]))
        return out
