"""知库 zhiku: offline-first knowledge-base question answering.

The public API is what ``__all__`` lists (a test guards it). Names are resolved on first
access (PEP 562), so ``import zhiku`` (and ``import zhiku.client``, ``zhiku --help``) does not
load the server — SQLAlchemy, NumPy, the indexes — until ``zhiku.Zhiku`` is touched."""

import typing as _typing
from importlib import import_module as _import_module

if _typing.TYPE_CHECKING:
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
    from zhiku.schema import (
        Answer,
        AnswerEvent,
        AnswerRequest,
        Chunk,
        Citation,
        Delta,
        FileRecord,
        Final,
        Hit,
        KnowledgeBase,
        Notice,
        Retrieved,
        Turn,
    )

__all__ = [
    "Answer",
    "AnswerEvent",
    "AnswerRequest",
    "AsyncZhikuClient",
    "Cancelled",
    "Chunk",
    "Citation",
    "ConfigError",
    "Conflict",
    "Delta",
    "FileRecord",
    "Final",
    "Forbidden",
    "Hit",
    "InvalidInput",
    "KnowledgeBase",
    "LoadError",
    "MissingDependency",
    "NotFound",
    "Notice",
    "Retrieved",
    "Settings",
    "Turn",
    "Unauthorized",
    "Unavailable",
    "UnsupportedFormat",
    "Zhiku",
    "ZhikuClient",
    "ZhikuError",
    "load_settings",
]

# where each public name lives; every name of __all__ appears here once
_HOMES: dict[str, str] = {
    "Zhiku": "zhiku.app",
    "AsyncZhikuClient": "zhiku.client",
    "ZhikuClient": "zhiku.client",
    "Settings": "zhiku.config",
    "load_settings": "zhiku.config",
    **{name: "zhiku.errors" for name in (
        "Cancelled", "ConfigError", "Conflict", "Forbidden", "InvalidInput", "LoadError", "MissingDependency",
        "NotFound", "Unauthorized", "Unavailable", "UnsupportedFormat", "ZhikuError")},
    **{name: "zhiku.schema" for name in (
        "Answer", "AnswerEvent", "AnswerRequest", "Chunk", "Citation", "Delta", "FileRecord", "Final", "Hit",
        "KnowledgeBase", "Notice", "Retrieved", "Turn")},
}


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'zhiku' has no attribute {name!r}")
    value = getattr(_import_module(home), name)
    globals()[name] = value  # resolved once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
