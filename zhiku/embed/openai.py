"""Any OpenAI-compatible ``/v1/embeddings`` endpoint (Ollama, vLLM, Xinference, OpenAI...)."""

from __future__ import annotations

from typing import Sequence

import httpx
import numpy as np

from zhiku.embed.base import normalise
from zhiku.errors import InvalidInput, Unavailable


class OpenAIEmbedder:
    score_range = (0.2, 0.9)

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 64,
        timeout: float = 60.0,
    ) -> None:
        if not base_url or not model:
            raise InvalidInput("an openai embedder needs both base_url and model")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = f"openai:{self.base_url}:{model}"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)
        self._batch = batch_size
        self._dimensions = dimensions

    @property
    def dimensions(self) -> int:
        if self._dimensions is None:
            self._dimensions = int(self._post(["dimension probe"]).shape[1])
        return self._dimensions

    def _post(self, texts: list[str]) -> np.ndarray:
        url = f"{self.base_url}/embeddings"
        try:
            resp = self._client.post(url, json={"model": self.model, "input": texts})
        except httpx.HTTPError as exc:
            raise Unavailable(f"embedding server {self.base_url} unreachable: {exc}", url=url) from None
        if resp.status_code != 200:
            raise Unavailable(
                f"embedding server {self.base_url} answered {resp.status_code}: {resp.text[:200]}",
                status=resp.status_code,
            )
        try:
            data = sorted(resp.json()["data"], key=lambda d: d["index"])
            return np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise Unavailable(f"embedding server {self.base_url} sent a malformed response") from None

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        parts = [self._post(list(texts[i : i + self._batch])) for i in range(0, len(texts), self._batch)]
        return normalise(np.vstack(parts))

    def embed_query(self, text: str) -> np.ndarray:
        return normalise(self._post([text]))[0]
