"""Secrets out of the access log: uvicorn's ``uvicorn.access`` lines show each request's path with
its query string, so a client that puts an API key in the URL (``?key=``, ``?api_key=``,
``?token=``...; zhiku refuses it, keys go in the Authorization header) would have it written at INFO.
A filter on that logger replaces such values, and any ``zk-`` key anywhere in the path, with
``[redacted]``; the rest of the line stays as it came.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"
# query parameters whose value is a secret, matched without case and with -/_ ignored
SECRET_PARAMS = frozenset({
    "key", "apikey", "xapikey", "token", "accesstoken", "authtoken", "idtoken", "refreshtoken", "sessiontoken",
    "auth", "authorization", "bearer", "password", "passwd", "pwd", "secret", "clientsecret", "session",
    "sessionid", "sig", "signature", "jwt", "credential", "credentials",
})
_PARAM = re.compile(r"([?&;])([^=&;#]*)=([^&;#]*)")
_ZHIKU_KEY = re.compile(r"zk-[A-Za-z0-9_\-]{8,}")


def _secret_name(name: str) -> bool:
    from urllib.parse import unquote_plus

    plain = re.sub(r"[-_.\s]", "", unquote_plus(name)).lower()
    return plain in SECRET_PARAMS or plain.endswith(("apikey", "token", "secret", "password"))


def redact(path: str) -> str:
    """``path`` (with its query string) with every secret value replaced."""
    def one(m: re.Match[str]) -> str:
        sep, name, value = m.groups()
        return f"{sep}{name}={REDACTED}" if value and _secret_name(name) else m.group(0)

    return _ZHIKU_KEY.sub(REDACTED, _PARAM.sub(one, path) if "=" in path else path)


class RedactSecrets(logging.Filter):
    """Rewrites the arguments of an access-log record (uvicorn's: client, method, path, version,
    status) so that no secret of the path reaches any handler; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Put the filter on uvicorn's access logger (once; dictConfig keeps a logger's filters)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
