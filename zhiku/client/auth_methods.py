"""The accounts half of the typed client: login and logout, users, API keys and KB grants.
``ZhikuClient`` and ``AsyncZhikuClient`` (``zhiku.client``) include these methods; the calls are
described once in ``zhiku.client.routes``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from zhiku.client.auth_models import ApiKeyInfo, GrantInfo, LoginResult, Me, NewApiKey, UserInfo
from zhiku.client.routes import Routes

if TYPE_CHECKING:
    import httpx

DEVICE_HEADER = "X-Zhiku-Device"  # a login's device token: sent with the next logins as this user (POST /api/auth/login)


class AuthMethods:
    """Account methods of ``ZhikuClient``."""

    device_token: str | None = None  # what the last login answered: keep it, pass it to the next logins

    if TYPE_CHECKING:  # provided by the client
        http: httpx.Client
        def _do(self, call: Any, **kw: Any) -> Any: ...
        def _send(self, call: Any, **kw: Any) -> httpx.Response: ...

    def login(self, username: str, password: str, device: str | None = None) -> LoginResult:
        """Log in; this client then sends the session token (``result.token``) with every request.
        ``device``: the device token an earlier login as this user gave (``device_token``): wrong
        passwords from elsewhere then do not pause this client's logins."""
        call = Routes.login(username, password)
        response = self._send(call, headers={DEVICE_HEADER: device} if device else None)
        result = LoginResult.model_validate(response.json())
        self.device_token = response.headers.get(DEVICE_HEADER)
        self.http.headers["Authorization"] = f"Bearer {result.token}"
        return result

    def logout(self) -> None:
        """Revoke the key this client sends (a login ends) and stop sending it."""
        self._do(Routes.logout())
        self.http.headers.pop("Authorization", None)

    def me(self) -> Me:
        return self._do(Routes.me())

    def change_password(self, old_password: str, new_password: str) -> None:
        self._do(Routes.change_password(old_password, new_password))

    def list_users(self) -> list[UserInfo]:
        return self._do(Routes.list_users())

    def get_user(self, name: str) -> UserInfo:
        return self._do(Routes.get_user(name))

    def create_user(self, name: str, password: str, role: str = "user") -> UserInfo:
        return self._do(Routes.create_user(name, password, role))

    def update_user(self, name: str, *, role: str | None = None, disabled: bool | None = None,
                    password: str | None = None) -> UserInfo:
        return self._do(Routes.update_user(name, role, disabled, password))

    def list_keys(self, user: str | None = None, all_users: bool = False, revoked: bool = False) -> list[ApiKeyInfo]:
        return self._do(Routes.list_keys(user, all_users, revoked))

    def create_key(self, name: str = "", scopes: Sequence[str] | None = None, expires_days: float | None = None,
                   user: str | None = None) -> NewApiKey:
        """A new API key; ``result.secret`` is shown this once."""
        return self._do(Routes.create_key(name, scopes, expires_days, user))

    def revoke_key(self, key_id: str) -> None:
        self._do(Routes.revoke_key(key_id))

    def list_grants(self, kb: str) -> list[GrantInfo]:
        return self._do(Routes.list_grants(kb))

    def grant_kb(self, kb: str, user: str, access: str = "read") -> list[GrantInfo]:
        return self._do(Routes.grant_kb(kb, user, access))

    def revoke_kb(self, kb: str, user: str) -> None:
        self._do(Routes.revoke_kb(kb, user))


class AsyncAuthMethods:
    """Account methods of ``AsyncZhikuClient``, to be awaited."""

    device_token: str | None = None  # as ``AuthMethods.device_token``

    if TYPE_CHECKING:  # provided by the client
        http: httpx.AsyncClient
        async def _do(self, call: Any, **kw: Any) -> Any: ...
        async def _send(self, call: Any, **kw: Any) -> httpx.Response: ...

    async def login(self, username: str, password: str, device: str | None = None) -> LoginResult:
        call = Routes.login(username, password)
        response = await self._send(call, headers={DEVICE_HEADER: device} if device else None)
        result = LoginResult.model_validate(response.json())
        self.device_token = response.headers.get(DEVICE_HEADER)
        self.http.headers["Authorization"] = f"Bearer {result.token}"
        return result

    async def logout(self) -> None:
        await self._do(Routes.logout())
        self.http.headers.pop("Authorization", None)

    async def me(self) -> Me:
        return await self._do(Routes.me())

    async def change_password(self, old_password: str, new_password: str) -> None:
        await self._do(Routes.change_password(old_password, new_password))

    async def list_users(self) -> list[UserInfo]:
        return await self._do(Routes.list_users())

    async def get_user(self, name: str) -> UserInfo:
        return await self._do(Routes.get_user(name))

    async def create_user(self, name: str, password: str, role: str = "user") -> UserInfo:
        return await self._do(Routes.create_user(name, password, role))

    async def update_user(self, name: str, *, role: str | None = None, disabled: bool | None = None,
                          password: str | None = None) -> UserInfo:
        return await self._do(Routes.update_user(name, role, disabled, password))

    async def list_keys(self, user: str | None = None, all_users: bool = False,
                        revoked: bool = False) -> list[ApiKeyInfo]:
        return await self._do(Routes.list_keys(user, all_users, revoked))

    async def create_key(self, name: str = "", scopes: Sequence[str] | None = None,
                         expires_days: float | None = None, user: str | None = None) -> NewApiKey:
        return await self._do(Routes.create_key(name, scopes, expires_days, user))

    async def revoke_key(self, key_id: str) -> None:
        await self._do(Routes.revoke_key(key_id))

    async def list_grants(self, kb: str) -> list[GrantInfo]:
        return await self._do(Routes.list_grants(kb))

    async def grant_kb(self, kb: str, user: str, access: str = "read") -> list[GrantInfo]:
        return await self._do(Routes.grant_kb(kb, user, access))

    async def revoke_kb(self, kb: str, user: str) -> None:
        await self._do(Routes.revoke_kb(kb, user))
