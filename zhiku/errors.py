"""The one exception tree of zhiku.

Every error a user can cause or meet is a ``ZhikuError``; faces (CLI, API) turn
them into one readable line or one error body without a stack trace::

    ZhikuError                  base; ``message`` is for people, ``details`` for machines
    ├── InvalidInput            the request or its input is wrong (bad name, bad setting, bad query)
    │   ├── ConfigError         the settings file or a ZHIKU_* variable is invalid
    │   └── UnsupportedFormat   a file type no loader reads, or a file that is not what its name says
    ├── LoadError               a file of a known type could not be read (corrupt, encrypted, empty)
    ├── NotFound                a knowledge base, file or chunk that does not exist
    ├── Conflict                it already exists, or it is busy
    ├── Unavailable             a model, server or optional dependency is not there
    │   └── MissingDependency   an optional extra is not installed (the message says what to install)
    └── Cancelled               the user cancelled long work
"""

from __future__ import annotations

from typing import Any


class ZhikuError(Exception):
    """Base of every error zhiku raises on purpose."""

    kind = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class InvalidInput(ZhikuError):
    kind = "invalid_input"


class ConfigError(InvalidInput):
    kind = "config_error"


class UnsupportedFormat(InvalidInput):
    kind = "unsupported_format"


class LoadError(ZhikuError):
    kind = "load_error"


class NotFound(ZhikuError):
    kind = "not_found"


class Conflict(ZhikuError):
    kind = "conflict"


class Unavailable(ZhikuError):
    kind = "unavailable"


class MissingDependency(Unavailable):
    kind = "missing_dependency"

    def __init__(self, package: str, extra: str | None = None, purpose: str = "") -> None:
        hint = f"pip install 'zhiku[{extra}]'" if extra else f"pip install {package}"
        what = f" (needed for {purpose})" if purpose else ""
        super().__init__(f"{package} is not installed{what}; install it with: {hint}", package=package)


class Cancelled(ZhikuError):
    kind = "cancelled"
