"""Your own sentence-embedding model, as ONNX, run in-process with onnxruntime (``type: onnx``).

BERT- and XLM-R-shaped models such as bge-small-zh-v1.5, gte-base-zh and bge-m3: the folder
``model`` names (``zhiku model pull bge-small-zh-v1.5`` fetches one; see
``zhiku.embed.onnx_runtime`` for the layout). Texts are batched ``batch_size`` at a time, the
longest first so each batch pads little, truncated at the model's ``max_length``.

Pooling per family: bge reads the [CLS] vector, gte and most others average the tokens (mean over
the attention mask); both are L2-normalised. The choice is, in order: ``pooling`` in the folder's
zhiku-onnx.json, sentence-transformers' ``1_Pooling/config.json``, the folder's name (``bge`` →
cls), mean. A graph that already outputs ``sentence_embedding`` is taken as it is.

Their retrieval quality was not measured in this project (their weights cannot be downloaded
where it is built); ``zhiku eval`` measures it on your own questions.
"""

from __future__ import annotations

import hashlib
import json
from typing import Sequence

import numpy as np

from zhiku.embed.base import normalise
from zhiku.embed.onnx_runtime import ModelFolder, OnnxModel, fingerprint, load
from zhiku.errors import ConfigError

POOLINGS = ("cls", "mean")
DEFAULT_SCORE_RANGE = (0.3, 0.9)  # a guess until measured with `zhiku eval`; the manifest may set it


def pooling_of(folder: ModelFolder) -> str:
    """cls or mean, by the order the module docstring gives."""
    chosen = folder.manifest.get("pooling")
    if chosen:
        if chosen not in POOLINGS:
            raise ConfigError(f"{folder.path}: pooling '{chosen}' is not one of {', '.join(POOLINGS)}")
        return str(chosen)
    st = folder.path / "1_Pooling" / "config.json"
    if st.is_file():
        try:
            modes = json.loads(st.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            modes = {}
        if modes.get("pooling_mode_cls_token"):
            return "cls"
        if modes.get("pooling_mode_mean_tokens"):
            return "mean"
    return "cls" if "bge" in folder.path.name.lower() else "mean"


def pool(hidden: np.ndarray, mask: np.ndarray, how: str) -> np.ndarray:
    """(batch, tokens, dim) token vectors → (batch, dim) by ``how`` (cls or mean over ``mask``)."""
    if how == "cls":
        return hidden[:, 0, :]
    weights = mask[:, :, None].astype(np.float32)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


class OnnxEmbedder:
    def __init__(self, model: str | None, threads: int = 0, batch_size: int = 16) -> None:
        self._model: OnnxModel = load(model, "an onnx embedder's `model`", threads)
        folder = self._model.folder
        self.pooling = pooling_of(folder)
        self._batch = batch_size
        self._query_prefix = str(folder.manifest.get("query_prefix", ""))
        self._passage_prefix = str(folder.manifest.get("passage_prefix", ""))
        low, high = folder.manifest.get("score_range") or DEFAULT_SCORE_RANGE
        self.score_range = (float(low), float(high))
        # the embedding cache key: whatever changes a passage's vector changes it
        self.model_id = f"onnx:{folder.path.name}:{fingerprint(folder)}:{self.pooling}:{self._model.max_length}"
        if self._passage_prefix:
            self.model_id += ":" + hashlib.sha256(self._passage_prefix.encode()).hexdigest()[:8]
        self.dimensions = int(self._embed(["dimensions"]).shape[1])

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        feed = self._model.encode(texts)
        out = self._model.run(feed)
        if "sentence_embedding" in out:
            vectors = out["sentence_embedding"]
        else:
            hidden = out.get("last_hidden_state")
            if hidden is None:
                hidden = next((v for v in out.values() if v.ndim == 3), None)
            if hidden is None:
                raise ConfigError(f"{self._model.folder.onnx_file} outputs no token vectors "
                                  f"({', '.join(out)}); an embedding model outputs last_hidden_state")
            vectors = pool(hidden.astype(np.float32), feed["attention_mask"], self.pooling)
        return normalise(vectors)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        texts = [self._passage_prefix + t for t in texts]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # similar lengths pad together
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), self._batch):
            rows = order[start : start + self._batch]
            out[rows] = self._embed([texts[i] for i in rows])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self._query_prefix + text])[0]
