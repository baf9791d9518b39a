"""Request and response bodies of login, users, API keys and KB grants (``/api/auth``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Scope = Literal["read", "write", "admin"]
DEFAULT_SCOPES: tuple[Scope, ...] = ("read", "write")  # of a new API key


class LoginRequest(_Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserInfo(BaseModel):
    id: str
    name: str
    role: Literal["admin", "user"]
    disabled: bool = False
    created_at: datetime | None = None


class ApiKeyInfo(BaseModel):
    """An API key as listed: never its secret, only the first characters to recognise it."""

    id: str
    user_id: str
    user: str
    name: str
    kind: Literal["key", "session"]
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked: bool = False


class NewApiKey(BaseModel):
    """A key just made: ``secret`` is shown this once (send it as ``Authorization: Bearer <secret>``)."""

    key: ApiKeyInfo
    secret: str


class LoginResult(BaseModel):
    """A web login: ``token`` is a session API key, valid until ``expires_at`` or logout."""

    token: str
    user: UserInfo
    key: ApiKeyInfo
    expires_at: datetime | None


class Me(BaseModel):
    """Who the caller is. On an open server (auth off) everyone is the local admin."""

    auth_enabled: bool
    user: UserInfo
    scopes: list[Scope]
    key: ApiKeyInfo | None = None


class UserCreate(_Body):
    name: str = Field(min_length=1, max_length=64, description="letters, digits or . _ @ + -")
    password: str = Field(min_length=1, max_length=1024)
    role: Literal["admin", "user"] = "user"


class UserUpdate(_Body):
    role: Literal["admin", "user"] | None = None
    disabled: bool | None = Field(None, description="a disabled user cannot log in and their keys stop working")
    password: str | None = Field(None, min_length=1, max_length=1024, description="a new password")


class PasswordChange(_Body):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class KeyCreate(_Body):
    name: str = Field("", max_length=200, description="what the key is for")
    scopes: list[Scope] = Field(default_factory=lambda: list(DEFAULT_SCOPES), min_length=1)
    expires_days: float | None = Field(None, gt=0, le=36500, description="empty: never expires")
    user: str | None = Field(None, description="whose key (admins only; default: the caller)")


class GrantRequest(_Body):
    access: Literal["read", "write", "owner"] = Field(
        description="read: search and read; write: also upload, edit and delete content; owner: also rename, "
        "delete the KB and manage its grants (a KB has one owner)")


class GrantInfo(BaseModel):
    user: str
    access: Literal["read", "write", "owner"]
    created_at: datetime | None = None
