"""The public API is exactly what zhiku/__init__.py lists; everything listed imports."""

from __future__ import annotations

import pkgutil

import zhiku

EXPECTED = {
    "Answer", "AnswerEvent", "AnswerRequest", "Delta", "Final", "Notice", "Retrieved", "Turn", "AsyncZhikuClient", "Cancelled", "Chunk", "Citation", "ConfigError", "Conflict", "FileRecord", "Forbidden", "Hit",
    "InvalidInput", "KnowledgeBase", "LoadError", "MissingDependency", "NotFound", "Settings", "Unauthorized", "Unavailable",
    "UnsupportedFormat", "Zhiku", "ZhikuClient", "ZhikuError", "load_settings",
}


def test_exported_members() -> None:
    assert set(zhiku.__all__) == EXPECTED
    for name in zhiku.__all__:
        assert getattr(zhiku, name) is not None
    public = {n for n in dir(zhiku) if not n.startswith("_")}
    # submodules are reachable, but no stray helper leaks into the package namespace
    submodules = {m.name for m in pkgutil.iter_modules(zhiku.__path__)}
    assert {"app", "client", "config", "errors", "schema"} <= submodules
    stray = public - EXPECTED - submodules
    assert stray == set()


def test_every_error_is_a_zhiku_error() -> None:
    for name in zhiku.__all__:
        obj = getattr(zhiku, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, zhiku.ZhikuError)
