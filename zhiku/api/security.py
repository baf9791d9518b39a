"""Who is calling, and may they touch this knowledge base? (Interface; the auth work fills it in.)

Every route that touches a knowledge base calls :func:`authorize_kbs` (or :func:`authorize_kb`)
with the names it was given, before doing anything: this module is the one place access is checked.
:func:`principal` says who is calling (on an open loopback server: the local single user).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal

from fastapi import Request

Need = Literal["read", "write", "admin"]


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    role: Literal["admin", "user"] = "admin"
    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"read", "write", "admin"}))

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


LOCAL_USER = Principal(user_id="local", name="local")


def principal(request: Request) -> Principal:
    """The caller of ``request`` (open server: the local user)."""
    return getattr(request.state, "principal", LOCAL_USER)


def authorize_kb(request: Request, kb: str, need: Need = "read") -> None:
    """Raise unless the caller may ``need`` the knowledge base ``kb``."""
    authorize_kbs(request, [kb], need)


def authorize_kbs(request: Request, kbs: Iterable[str], need: Need = "read") -> None:
    """Raise unless the caller may ``need`` every knowledge base in ``kbs``."""
    return None
