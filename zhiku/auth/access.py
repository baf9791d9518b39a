"""Who may use which knowledge base: its owner, the users granted read or write, and admins.

A mixin of ``AuthService`` (it needs ``engine`` and ``user(name)``)."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from zhiku.auth.identity import (
    _ACCESS_RANK,
    _NEED_RANK,
    _NEED_SCOPE,
    ACCESS_LEVELS,
    Access,
    ApiKey,
    Need,
    Principal,
    User,
    _now,
    _utc,
)
from zhiku.errors import Forbidden, InvalidInput, NotFound
from zhiku.store.db import kb_grants, kbs, users


class KBAccess:
    engine: Engine

    def user(self, name: str) -> User:  # provided by AuthService
        raise NotImplementedError

    # -- knowledge-base access -------------------------------------------------------
    def _kb_id(self, kb_name: str) -> str:
        with self.engine.connect() as conn:
            kb_id = conn.execute(select(kbs.c.id).where(kbs.c.name == kb_name)).scalar()
        if kb_id is None:
            raise NotFound(f"knowledge base '{kb_name}' does not exist", name=kb_name)
        return kb_id

    def grant(self, kb_name: str, user_name: str, access: Access) -> None:
        """Give ``user_name`` ``access`` to the KB (replacing what they had). A KB has one owner:
        granting ``owner`` makes the previous owner a writer."""
        if access not in ACCESS_LEVELS:
            raise InvalidInput(f"unknown access '{access}': read, write or owner", access=access)
        kb_id, user = self._kb_id(kb_name), self.user(user_name)
        with self.engine.begin() as conn:
            if access == "owner":
                conn.execute(update(kb_grants).where(kb_grants.c.kb_id == kb_id, kb_grants.c.access == "owner")
                             .values(access="write"))
            conn.execute(delete(kb_grants).where(kb_grants.c.kb_id == kb_id, kb_grants.c.user_id == user.id))
            conn.execute(insert(kb_grants).values(kb_id=kb_id, user_id=user.id, access=access, created_at=_now()))

    def set_owner(self, kb_name: str, user_id: str) -> None:
        with self.engine.connect() as conn:
            name = conn.execute(select(users.c.name).where(users.c.id == user_id)).scalar()
        if name is not None:
            self.grant(kb_name, name, "owner")

    def revoke(self, kb_name: str, user_name: str) -> None:
        kb_id, user = self._kb_id(kb_name), self.user(user_name)
        with self.engine.begin() as conn:
            gone = conn.execute(delete(kb_grants).where(kb_grants.c.kb_id == kb_id, kb_grants.c.user_id == user.id))
        if not gone.rowcount:
            raise NotFound(f"user '{user_name}' has no access to knowledge base '{kb_name}'")

    def grants(self, kb_name: str) -> list[dict[str, Any]]:
        kb_id = self._kb_id(kb_name)
        query = (select(kb_grants.c.access, kb_grants.c.created_at, users.c.name)
                 .join(users, users.c.id == kb_grants.c.user_id).where(kb_grants.c.kb_id == kb_id))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        rows = sorted(rows, key=lambda r: (-_ACCESS_RANK[r.access], r.name))
        return [{"user": r.name, "access": r.access, "created_at": _utc(r.created_at)} for r in rows]

    def access_of(self, user_id: str) -> dict[str, str]:
        """KB id → the user's access (owner, write, read)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(kb_grants.c.kb_id, kb_grants.c.access)
                                .where(kb_grants.c.user_id == user_id)).all()
        return {r.kb_id: r.access for r in rows}

    def readable_kb_ids(self, who: Principal) -> set[str] | None:
        """The KB ids ``who`` may read; None: every KB (admins, the open server's local user)."""
        if who.is_admin:
            return None
        return set(self.access_of(who.user_id))

    def check(self, who: Principal, kb_names: Sequence[str], need: Need = "read") -> None:
        """Raise unless ``who`` may ``need`` every KB named. A KB the user cannot read at all answers
        like one that does not exist (NotFound), so names do not leak; one they can read but not
        change answers Forbidden."""
        self.require_scope(who, _NEED_SCOPE[need])
        if who.is_admin:
            return
        access = self.access_of(who.user_id)
        for name in dict.fromkeys(kb_names):
            try:
                kb_id = self._kb_id(name)
            except NotFound:
                raise NotFound(f"knowledge base '{name}' does not exist", name=name) from None
            have = access.get(kb_id)
            if have is None:
                raise NotFound(f"knowledge base '{name}' does not exist", name=name)
            if _ACCESS_RANK[have] < _NEED_RANK[need]:
                wanted = "ownership" if need == "admin" else f"{need} access"
                raise Forbidden(f"you have {have} access to knowledge base '{name}'; this needs {wanted}",
                                name=name, access=have, need=need)

    # -- who may manage what ---------------------------------------------------------
    @staticmethod
    def require_scope(who: Principal, scope: str) -> None:
        if scope not in who.scopes:
            has = ", ".join(sorted(who.scopes)) or "none"
            raise Forbidden(f"this API key lacks the '{scope}' scope (it has: {has})", scope=scope)

    def require_admin(self, who: Principal) -> None:
        self.require_scope(who, "admin")
        if not who.is_admin:
            raise Forbidden("only an admin may do this")

    def require_key_manager(self, who: Principal, key: ApiKey) -> None:
        """Users manage their own keys; admins every key. Unknown to others (NotFound)."""
        self.require_scope(who, "admin")
        if not who.is_admin and key.user_id != who.user_id:
            raise NotFound(f"API key {key.id} does not exist", key_id=key.id)
