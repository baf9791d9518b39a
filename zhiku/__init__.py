"""知库 zhiku: offline-first knowledge-base question answering.

The public API is what ``__all__`` lists (a test guards it)."""

from zhiku.app import Zhiku
from zhiku.client import AsyncZhikuClient, ZhikuClient
from zhiku.config import Settings, load_settings
from zhiku.errors import (
    Cancelled,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    LoadError,
    MissingDependency,
    NotFound,
    Unauthorized,
    Unavailable,
    UnsupportedFormat,
    ZhikuError,
)
from zhiku.schema import Answer, Chunk, Citation, FileRecord, Hit, KnowledgeBase

__all__ = [
    "Answer",
    "AsyncZhikuClient",
    "Cancelled",
    "Chunk",
    "Citation",
    "ConfigError",
    "Conflict",
    "FileRecord",
    "Forbidden",
    "Hit",
    "InvalidInput",
    "KnowledgeBase",
    "LoadError",
    "MissingDependency",
    "NotFound",
    "Settings",
    "Unauthorized",
    "Unavailable",
    "UnsupportedFormat",
    "Zhiku",
    "ZhikuClient",
    "ZhikuError",
    "load_settings",
]
