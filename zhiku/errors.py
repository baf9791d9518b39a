"""The one exception tree of zhiku.

Every error a user can cause or meet is a ``ZhikuError``; faces (CLI, API) turn
them into one readable line or one error body without a stack trace::

    ZhikuError                  base; ``message`` is for people, ``details`` for machines
    ├── InvalidInput            the request or its input is wrong (bad name, bad setting, bad query)
    │   ├── ConfigError         the settings file or a ZHIKU_* variable is invalid
    │   ├── TooLarge            an upload over the size limits (HTTP 413)
    │   ├── UnsupportedFormat   a file type no loader reads, or a file that is not what its name says
    │   └── ContextTooLong      the prompt does not fit the model's context window
    ├── LoadError               a file of a known type could not be read (corrupt, encrypted, empty)
    ├── NotFound                a knowledge base, file or chunk that does not exist
    ├── Conflict                it already exists, or it is busy
    ├── Unauthorized            no valid credentials: a missing, unknown, expired or revoked API key; a bad password
    ├── Forbidden               authenticated, but not allowed: the API key's scopes or the user's role fall short
    ├── Unavailable             a model, server or optional dependency is not there
    │   ├── MissingDependency   an optional extra is not installed (the message says what to install)
    │   ├── ModelUnreachable    a chat model's server cannot be reached (refused, DNS, TLS, bad key)
    │   ├── ModelTimeout        a chat model did not answer (or finish) within its timeout
    │   ├── RateLimited         a chat model's server said 429: too many requests, retry later
    │   ├── BadModelResponse    a chat model answered with an error (5xx) or something unreadable
    │   └── DownloadFailed      a model download failed
    │       └── ChecksumMismatch    the downloaded file is not the one expected (sha256 differs)
    └── Cancelled               the user cancelled long work
"""

from __future__ import annotations

from typing import Any


class ZhikuError(Exception):
    """Base of every error zhiku raises on purpose."""

    kind = "error"
    status_code: int | None = None  # the HTTP status, when the error came back from a server (zhiku.client)

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


class TooLarge(InvalidInput):
    """An upload over the size limits (HTTP 413)."""

    kind = "too_large"


class UnsupportedFormat(InvalidInput):
    kind = "unsupported_format"


class LoadError(ZhikuError):
    kind = "load_error"


class NotFound(ZhikuError):
    kind = "not_found"


class Conflict(ZhikuError):
    kind = "conflict"


class Unauthorized(ZhikuError):
    kind = "unauthorized"


class Forbidden(ZhikuError):
    kind = "forbidden"


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


class ContextTooLong(InvalidInput):
    kind = "context_too_long"


class ModelUnreachable(Unavailable):
    kind = "model_unreachable"


class ModelTimeout(Unavailable):
    kind = "model_timeout"


class RateLimited(Unavailable):
    kind = "rate_limited"


class BadModelResponse(Unavailable):
    kind = "bad_model_response"


class DownloadFailed(Unavailable):
    kind = "download_failed"


class ChecksumMismatch(DownloadFailed):
    kind = "checksum_mismatch"
