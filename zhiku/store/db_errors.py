"""A database_url that cannot be opened, said in one line: what is wrong and what to write instead."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from zhiku.errors import ConfigError

EXAMPLES = "postgresql+psycopg://user:password@host:5432/zhiku, or sqlite:////path/to/zhiku.db"


def shown(url: str) -> str:
    """The URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL at all: show it as given, cut short
        return url[:200]


def database_error(url: str, error: BaseException) -> ConfigError | None:
    """A ``ConfigError`` explaining why ``url`` cannot be opened, or None when ``error`` is not about that."""
    if isinstance(error, ConfigError):
        return None
    where = shown(url)
    if isinstance(error, sa_exc.ArgumentError) and not isinstance(error, sa_exc.NoSuchModuleError):
        return ConfigError(f"database_url '{where}' is not a database URL; write e.g. {EXAMPLES}")
    if isinstance(error, sa_exc.NoSuchModuleError):
        scheme = where.split(":", 1)[0]
        hint = " (write postgresql+psycopg://, not postgres://)" if scheme.startswith("postgres") else ""
        return ConfigError(f"database_url '{where}' names an unknown database type '{scheme}'{hint}; "
                           f"zhiku runs on SQLite and PostgreSQL: {EXAMPLES}")
    if isinstance(error, ImportError):
        return ConfigError(f"database_url '{where}' needs the Python driver '{error.name or error}', which is not "
                           f"installed; zhiku runs on SQLite and PostgreSQL (psycopg): {EXAMPLES}")
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        first = reason[0] if reason else type(error).__name__
        first = first.removeprefix("connection failed: ")
        return ConfigError(f"cannot open the database at {where}: {first}")
    return None
