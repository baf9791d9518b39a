"""The nouns of authentication: who calls (``Principal``), users, API keys, and how secrets are
hashed (passwords: salted scrypt; API keys: sha256 of 256 random bits)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Literal, overload

from zhiku.errors import InvalidInput

Role = Literal["admin", "user"]
Scope = Literal["read", "write", "admin"]
Access = Literal["owner", "write", "read"]
Need = Literal["read", "write", "admin"]

ROLES = ("admin", "user")
SCOPES = ("read", "write", "admin")
ACCESS_LEVELS = ("owner", "write", "read")
DEFAULT_SCOPES = ("read", "write")
KEY_PREFIX = "zk-"
# what a KB need asks of a user's access to the KB, and of the key's scopes
_ACCESS_RANK = {"read": 1, "write": 2, "owner": 3}
_NEED_RANK = {"read": 1, "write": 2, "admin": 3}
_NEED_SCOPE = {"read": "read", "write": "write", "admin": "write"}
_USER_NAME = re.compile(r"^[\w.@+-]{1,64}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
LAST_USED_EVERY = timedelta(seconds=60)  # last_used_at is written at most this often per key
LOGIN_FAILURES, LOGIN_WINDOW_S = 5, 300.0  # wrong passwords per user name before logins pause
NO_USERS_RECHECK_S = 1.0  # an open server notices a user added from the CLI within this


@dataclass(frozen=True)
class Principal:
    """Who calls: a user through one of their keys, or the single local user of an open server."""

    user_id: str
    name: str
    role: Role = "admin"
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(SCOPES))
    key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


LOCAL_USER = Principal(user_id="local", name="local")
ANONYMOUS = Principal(user_id="", name="anonymous", role="user", scopes=frozenset())


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role
    disabled: bool
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role, "disabled": self.disabled,
                "created_at": self.created_at}


@dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: str
    user: str
    name: str
    kind: Literal["key", "session"]
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked: bool

    def public(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "id", "user_id", "user", "name", "kind", "prefix", "scopes", "created_at", "last_used_at",
            "expires_at", "revoked")} | {"scopes": list(self.scopes)}


def _now() -> datetime:
    return datetime.now(timezone.utc)


@overload
def _utc(dt: datetime) -> datetime: ...


@overload
def _utc(dt: datetime | None) -> datetime | None: ...


def _utc(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every timestamp zhiku writes is UTC."""
    return dt.replace(tzinfo=timezone.utc) if dt is not None and dt.tzinfo is None else dt


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def secret_hash(secret: str) -> str:
    """Keys are 256 random bits: a plain sha256 is enough to keep them useless if the database leaks."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _user(row: Any) -> User:
    return User(id=row.id, name=row.name, role=row.role, disabled=bool(row.disabled),
                created_at=_utc(row.created_at))


def _key(row: Any, user_name: str) -> ApiKey:
    return ApiKey(id=row.id, user_id=row.user_id, user=user_name, name=row.name, kind=row.kind, prefix=row.prefix,
                  scopes=tuple(s for s in SCOPES if s in (row.scopes or [])), created_at=_utc(row.created_at),
                  last_used_at=_utc(row.last_used_at), expires_at=_utc(row.expires_at), revoked=bool(row.revoked))


def normalize_scopes(scopes: Iterable[str] | None) -> tuple[str, ...]:
    chosen = list(DEFAULT_SCOPES if scopes is None else scopes)
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise InvalidInput(f"unknown scope '{unknown[0]}': use read, write or admin", scope=unknown[0])
    if not chosen:
        raise InvalidInput("an API key needs at least one scope: read, write or admin")
    return tuple(s for s in SCOPES if s in chosen)
