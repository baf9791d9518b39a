"""``AuthService`` (``Zhiku.auth``): users, API keys, web logins, whether auth is on; KB access
comes from its ``KBAccess`` base. Who may *manage* users and keys is decided here too
(``require_*``), so that API routes and CLI commands stay thin."""

from __future__ import annotations

import functools
import re
import secrets
import time
import unicodedata
import uuid
from datetime import datetime, timedelta
from typing import Any, Iterable, Literal

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from zhiku.auth.access import KBAccess
from zhiku.auth.identity import (
    _USER_NAME,
    KEY_PREFIX,
    LAST_USED_EVERY,
    LOCAL_USER,
    NO_USERS_RECHECK_S,
    ROLES,
    SCOPES,
    ApiKey,
    Principal,
    Role,
    User,
    _key,
    _now,
    _user,
    _utc,
    hash_password,
    normalize_scopes,
    secret_hash,
    verify_password,
)
from zhiku.auth.throttle import LoginThrottle
from zhiku.config import AuthSettings
from zhiku.errors import Conflict, InvalidInput, NotFound, Unauthorized
from zhiku.store.db import api_keys, conversations, users


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


class AuthService(KBAccess):
    """Users, keys and grants in the metadata database (``Zhiku.auth``)."""

    def __init__(self, engine: Engine, settings: AuthSettings) -> None:
        self.engine = engine
        self.settings = settings
        self._users_seen = False  # users are never deleted: once one exists, auth stays on
        self._checked_at = float("-inf")
        self.throttle = LoginThrottle()

    # -- is auth on? -----------------------------------------------------------------
    def has_users(self, active_admin: bool = False) -> bool:
        query = select(users.c.id).limit(1)
        if active_admin:
            query = query.where(users.c.role == "admin", users.c.disabled.is_(False))
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def enabled_if_known(self) -> bool | None:
        """:meth:`enabled` when answering needs no database read now; None when it does (an open
        server looks for a user added from the CLI once every ``NO_USERS_RECHECK_S``)."""
        configured = self.settings.enabled
        if configured is not None:
            return configured
        if not self._users_seen and time.monotonic() - self._checked_at >= NO_USERS_RECHECK_S:
            return None
        return self._users_seen

    def enabled(self) -> bool:
        known = self.enabled_if_known()
        if known is None:  # the periodic look for a first user is due
            self._users_seen = self.has_users()
            self._checked_at = time.monotonic()
            return self._users_seen
        return known

    # -- users -----------------------------------------------------------------------
    def _check_password(self, password: str) -> None:
        least = self.settings.min_password_length
        if len(password or "") < least:
            raise InvalidInput(f"the password is too short: at least {least} characters")

    def create_user(self, name: str, password: str, role: Role = "user") -> User:
        """A new user. The first one (the one whose creation turns auth on) is given the conversations
        made while the server was open, which would otherwise belong to nobody who can log in."""
        name = unicodedata.normalize("NFC", name or "")
        if not _USER_NAME.match(name):
            raise InvalidInput(f"invalid user name '{name}': 1 to 64 letters, digits or . _ @ + -", name=name)
        if role not in ROLES:
            raise InvalidInput(f"unknown role '{role}': admin or user", role=role)
        self._check_password(password)
        user_id, created_at = uuid.uuid4().hex, _now()
        row = {"id": user_id, "name": name, "password_hash": hash_password(password), "role": role,
               "disabled": False, "created_at": created_at}
        try:
            with self.engine.begin() as conn:
                first = not conn.execute(select(users.c.id).limit(1)).first()
                conn.execute(insert(users).values(**row))
                if first:  # the server was open: its conversations become this user's, not unreachable
                    conn.execute(update(conversations).where(conversations.c.owner == LOCAL_USER.user_id)
                                 .values(owner=user_id))
        except IntegrityError:
            raise Conflict(f"user '{name}' already exists", name=name) from None
        self._users_seen = True
        return User(id=user_id, name=name, role=role, disabled=False, created_at=created_at)

    def user(self, name: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        if row is None:
            raise NotFound(f"user '{name}' does not exist", name=name)
        return _user(row)

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(select(users).order_by(users.c.created_at)).all()]

    def update_user(self, name: str, role: Role | None = None, disabled: bool | None = None) -> User:
        """Change a user's role or (dis)able them; the last active admin cannot be demoted or disabled."""
        user = self.user(name)
        if role is not None and role not in ROLES:
            raise InvalidInput(f"unknown role '{role}': admin or user", role=role)
        values: dict[str, Any] = {}
        if role is not None:
            values["role"] = role
        if disabled is not None:
            values["disabled"] = disabled
        if not values:
            return user
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user.id).values(**values))
            admins = conn.execute(select(func.count()).select_from(users).where(
                users.c.role == "admin", users.c.disabled.is_(False))).scalar_one()
            if user.role == "admin" and not user.disabled and admins == 0:  # raising rolls back
                raise Conflict(f"'{name}' is the last active admin: make another admin first", name=name)
        return self.user(name)

    def set_password(self, name: str, password: str) -> None:
        """Set a new password; the user's web logins (session keys) end, their API keys stay."""
        user = self.user(name)
        self._check_password(password)
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user.id).values(password_hash=hash_password(password)))
            conn.execute(update(api_keys).where(api_keys.c.user_id == user.id, api_keys.c.kind == "session")
                         .values(revoked=True))

    def verify(self, name: str, password: str) -> User:
        """The user, when the password is right and the user is enabled; Unauthorized otherwise."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        if row is None:
            verify_password(password, _dummy_hash())  # answer as slowly as for a real user
        if row is None or not verify_password(password, row.password_hash) or row.disabled:
            raise Unauthorized("wrong user name or password (or the user is disabled)")
        return _user(row)

    # -- API keys --------------------------------------------------------------------
    def create_key(self, user_name: str, name: str = "", scopes: Iterable[str] | None = None,
                   expires_days: float | None = None, kind: Literal["key", "session"] = "key",
                   expires_at: datetime | None = None) -> tuple[ApiKey, str]:
        """A new key and its secret (shown this once; only its hash is kept)."""
        user = self.user(user_name)
        chosen = normalize_scopes(scopes)
        if expires_days is not None:
            if expires_days <= 0:
                raise InvalidInput("expires_days must be positive")
            expires_at = _now() + timedelta(days=expires_days)
        if len(name) > 200:
            raise InvalidInput("key names are at most 200 characters")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key_id, prefix, created_at = uuid.uuid4().hex, secret[:10], _now()
        row = {"id": key_id, "user_id": user.id, "name": name, "kind": kind, "prefix": prefix,
               "secret_sha256": secret_hash(secret), "scopes": list(chosen), "created_at": created_at,
               "last_used_at": None, "expires_at": expires_at, "revoked": False}
        with self.engine.begin() as conn:
            conn.execute(insert(api_keys).values(**row))
        return ApiKey(id=key_id, user_id=user.id, user=user.name, name=name, kind=kind, prefix=prefix,
                      scopes=chosen, created_at=created_at, last_used_at=None, expires_at=expires_at,
                      revoked=False), secret

    def login(self, name: str, password: str, client: str | None = None,
              device: str | None = None) -> tuple[ApiKey, str]:
        """A session key for a web login: every scope, valid for ``auth.session_ttl_hours``.
        Wrong passwords pause logins per user name and per client address (``throttle.py``); a
        ``device`` token from an earlier login as this user passes the per-name pause. The client's
        device token to keep is ``self.throttle.succeeded``'s, see ``login_device``."""
        key, secret, _ = self.login_device(name, password, client, device)
        return key, secret

    def login_device(self, name: str, password: str, client: str | None = None,
                     device: str | None = None) -> tuple[ApiKey, str, str]:
        """``login``, also returning the device token the client keeps for its next logins."""
        known = self.throttle.known(name, device)
        self.throttle.check(name, client, known)
        try:
            user = self.verify(name, password)
        except Unauthorized:
            self.throttle.failed(name, client)
            raise
        token = self.throttle.succeeded(name, client, device, known)
        ttl = timedelta(hours=self.settings.session_ttl_hours)
        key, secret = self.create_key(user.name, "web login", SCOPES, kind="session", expires_at=_now() + ttl)
        return key, secret, token

    def list_keys(self, user_name: str | None = None, include_revoked: bool = False) -> list[ApiKey]:
        query = select(api_keys, users.c.name.label("user_name")).join(users, users.c.id == api_keys.c.user_id)
        if user_name is not None:
            query = query.where(users.c.id == self.user(user_name).id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked.is_(False))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(api_keys.c.created_at)).all()
        return [_key(r, r.user_name) for r in rows]

    def key(self, key_id: str) -> ApiKey:
        """A key by id, or by a unique leading part of its id (at least 6 characters)."""
        key_id = (key_id or "").strip().lower()
        if len(key_id) < 6 or not re.fullmatch(r"[0-9a-f]+", key_id):
            raise InvalidInput(f"'{key_id}' is not a key id (6 to 32 hex characters, as `key list` shows)")
        query = select(api_keys, users.c.name.label("user_name")).join(users, users.c.id == api_keys.c.user_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.where(api_keys.c.id.startswith(key_id)).limit(2)).all()
        if not rows:
            raise NotFound(f"API key {key_id} does not exist", key_id=key_id)
        if len(rows) > 1:
            raise InvalidInput(f"'{key_id}' matches several keys: give more of its id", key_id=key_id)
        return _key(rows[0], rows[0].user_name)

    def revoke_key(self, key_id: str) -> ApiKey:
        key = self.key(key_id)
        with self.engine.begin() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key.id).values(revoked=True))
        return self.key(key.id)

    def resolve(self, token: str) -> Principal | None:
        """The principal a bearer token stands for; None when unknown, revoked, expired or its user disabled."""
        if not token.startswith(KEY_PREFIX):
            return None
        query = (select(api_keys, users.c.name.label("user_name"), users.c.role, users.c.disabled)
                 .join(users, users.c.id == api_keys.c.user_id)
                 .where(api_keys.c.secret_sha256 == secret_hash(token)))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        now = _now()
        if row is None or row.revoked or row.disabled:
            return None
        expires = _utc(row.expires_at)
        if expires is not None and expires <= now:
            return None
        last = _utc(row.last_used_at)
        if last is None or now - last > LAST_USED_EVERY:
            with self.engine.begin() as conn:
                conn.execute(update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=now))
        return Principal(user_id=row.user_id, name=row.user_name, role=row.role,
                         scopes=frozenset(row.scopes or ()), key_id=row.id)
