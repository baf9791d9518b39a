"""The configured embedders by name, each built on first use: what services that embed receive
(the Retriever for questions, the Ingestor for passages) instead of the whole app."""

from __future__ import annotations

import threading
from typing import Callable

from zhiku.config import EmbedderConfig
from zhiku.embed import build_embedder
from zhiku.embed.base import Embedder


class Embedders:
    def __init__(self, config_of: Callable[[str], EmbedderConfig]) -> None:
        """``config_of``: an embedder's settings by name (``Settings.embedder``; an unknown name
        raises ConfigError before anything is built)."""
        self._config_of = config_of
        self._built: dict[str, Embedder] = {}
        self._lock = threading.Lock()  # an embedder is built once, whichever thread asks first

    def get(self, name: str) -> Embedder:
        with self._lock:
            if name not in self._built:
                self._built[name] = build_embedder(self._config_of(name))
            return self._built[name]

    def config(self, name: str) -> EmbedderConfig:
        return self._config_of(name)

    def score_range(self, name: str) -> tuple[float, float]:
        """The cosine range the embedder's vectors fall in (fusion maps it onto [0, 1])."""
        return self.get(name).score_range
