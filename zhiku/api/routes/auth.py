"""Login and logout, who am I, users (admins), API keys (your own; admins: all), KB grants (owners).

A web login (``POST /api/auth/login``) returns a session API key the UI sends as
``Authorization: Bearer <token>``; ``POST /api/auth/logout`` revokes it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status

from zhiku.client.auth_models import (
    ApiKeyInfo,
    GrantInfo,
    GrantRequest,
    KeyCreate,
    LoginRequest,
    LoginResult,
    Me,
    NewApiKey,
    PasswordChange,
    UserCreate,
    UserInfo,
    UserUpdate,
)
from zhiku.api.deps import AdminScope, CallerDep, KBOwner, ReadScope, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.security import LOCAL_USER, AdminUser, Scope
from zhiku.auth import SCOPES, ApiKey, User
from zhiku.errors import Forbidden, InvalidInput

router = APIRouter(tags=["users and keys"])
UserName = Annotated[str, Path(description="user name", min_length=1, max_length=64)]
KeyId = Annotated[str, Path(description="API key id (or a unique leading part of it)", min_length=6, max_length=32)]


def _user(u: User) -> UserInfo:
    return UserInfo(**u.public())


def _key(k: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(**k.public())


def _no_204() -> Response:
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/api/auth/login", responses=responses(401, 422, 429))
def login(body: LoginRequest, zhiku: ZhikuDep, request: Request, response: Response,
          device: Annotated[str | None, Header(alias="X-Zhiku-Device", max_length=200, description=(
              "the device token an earlier login as this user answered with: logins from a known client "
              "go on while wrong passwords from elsewhere pause the name"))] = None) -> LoginResult:
    """User name and password → a session API key (every scope the user's role allows), valid for
    ``auth.session_ttl_hours``. The answer's ``X-Zhiku-Device`` header is this client's device token:
    send it with the next logins. Wrong passwords pause logins per name (5 in 5 minutes, except from a
    known client) and per client address (20 in 5 minutes): 429 with Retry-After."""
    client = request.client.host if request.client else None
    key, secret, token = zhiku.auth.login_device(body.username, body.password, client, device)
    response.headers["X-Zhiku-Device"] = token
    return LoginResult(token=secret, user=_user(zhiku.auth.user(key.user)), key=_key(key), expires_at=key.expires_at)


@router.post("/api/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=responses(400, 401))
def logout(who: CallerDep, zhiku: ZhikuDep) -> Response:
    """End the web login this request was sent with (its session key is revoked); nothing to do on an
    open server. A long-lived API key is not a login: logging out with one is refused (400) and the
    key keeps working; revoke it with ``DELETE /api/auth/keys/{id}`` (``zhiku key revoke``)."""
    if who.key_id is not None:
        key = zhiku.auth.key(who.key_id)
        if key.kind != "session":
            raise InvalidInput(
                f"this request was sent with the API key '{key.name or key.prefix}' ({key.id[:8]}), not a web "
                "login: logging out does not revoke API keys; revoke it with DELETE /api/auth/keys/{id} or "
                "`zhiku key revoke`", key_id=key.id)
        zhiku.auth.revoke_key(who.key_id)
    return _no_204()


@router.get("/api/auth/me", responses=responses(401))
def me(who: CallerDep, zhiku: ZhikuDep) -> Me:
    scopes = sorted(who.scopes, key=SCOPES.index)
    if who is LOCAL_USER:
        return Me(auth_enabled=False, user=UserInfo(id=who.user_id, name=who.name, role="admin"), scopes=scopes)
    key = zhiku.auth.key(who.key_id) if who.key_id else None
    return Me(auth_enabled=True, user=_user(zhiku.auth.user(who.name)), scopes=scopes,
              key=_key(key) if key else None)


@router.post("/api/auth/password", status_code=status.HTTP_204_NO_CONTENT, responses=responses(400, 401, 403, 422))
def change_password(body: PasswordChange, who: CallerDep, zhiku: ZhikuDep) -> Response:
    """Change your own password (the old one is asked again); your other web logins end."""
    if who is LOCAL_USER:
        raise InvalidInput("the server is open (auth is off): there is no user whose password to change")
    zhiku.auth.verify(who.name, body.old_password)
    zhiku.auth.set_password(who.name, body.new_password)
    return _no_204()


# -- users (admins) ------------------------------------------------------------------------
@router.get("/api/auth/users", responses=responses(401, 403), dependencies=[Depends(AdminUser())])
def list_users(zhiku: ZhikuDep) -> list[UserInfo]:
    return [_user(u) for u in zhiku.auth.list_users()]


@router.post("/api/auth/users", status_code=status.HTTP_201_CREATED, responses=responses(400, 401, 403, 409, 422),
             dependencies=[Depends(AdminUser())])
def create_user(body: UserCreate, zhiku: ZhikuDep) -> UserInfo:
    return _user(zhiku.auth.create_user(body.name, body.password, body.role))


@router.get("/api/auth/users/{name}", responses=responses(401, 403, 404, 422))
def get_user(name: UserName, who: ReadScope, zhiku: ZhikuDep) -> UserInfo:
    """A user (admins: anyone; others: themselves)."""
    if not who.is_admin and who.name != name:
        raise Forbidden("only an admin may look at other users")
    return _user(zhiku.auth.user(name))


@router.patch("/api/auth/users/{name}", responses=responses(400, 401, 403, 404, 409, 422),
              dependencies=[Depends(AdminUser())])
def update_user(name: UserName, body: UserUpdate, zhiku: ZhikuDep) -> UserInfo:
    """Change a user's role, disable or enable them, set a new password (the last active admin stays)."""
    if body.password is not None:
        zhiku.auth.set_password(name, body.password)
    return _user(zhiku.auth.update_user(name, role=body.role, disabled=body.disabled))


# -- API keys --------------------------------------------------------------------------------
@router.get("/api/auth/keys", responses=responses(401, 403, 404, 422))
def list_keys(
    who: AdminScope, zhiku: ZhikuDep,
    user: Annotated[str | None, Query(description="whose keys (admins; default: your own)")] = None,
    all_users: Annotated[bool, Query(alias="all", description="every user's keys (admins)")] = False,
    revoked: Annotated[bool, Query(description="include revoked and logged-out keys")] = False,
) -> list[ApiKeyInfo]:
    if (all_users or (user is not None and user != who.name)) and not who.is_admin:
        raise Forbidden("only an admin may list other users' keys")
    if who is LOCAL_USER and user is None:
        all_users = True
    return [_key(k) for k in zhiku.auth.list_keys(None if all_users else (user or who.name), revoked)]


@router.post("/api/auth/keys", status_code=status.HTTP_201_CREATED, responses=responses(400, 401, 403, 404, 422))
def create_key(body: KeyCreate, who: AdminScope, zhiku: ZhikuDep) -> NewApiKey:
    """A new API key; its secret is in this answer only. Admins may make keys for other users."""
    owner = body.user or (None if who is LOCAL_USER else who.name)
    if owner is None:
        raise InvalidInput("the server is open (auth is off): name the user the key is for")
    if owner != who.name:
        zhiku.auth.require_admin(who)
    key, secret = zhiku.auth.create_key(owner, body.name, body.scopes, body.expires_days)
    return NewApiKey(key=_key(key), secret=secret)


@router.delete("/api/auth/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses=responses(400, 401, 403, 404, 422))
def revoke_key(key_id: KeyId, who: CallerDep, zhiku: ZhikuDep) -> Response:
    """Revoke a key at once (your own; admins: any)."""
    key = zhiku.auth.key(key_id)
    if who.key_id != key.id:  # revoking the key you hold is logging out: always allowed
        zhiku.auth.require_key_manager(who, key)
    zhiku.auth.revoke_key(key.id)
    return _no_204()


# -- who may use a knowledge base (its owner and admins decide) ------------------------------
@router.get("/api/kbs/{kb}/grants", tags=["knowledge bases"], responses=responses(401, 403, 404, 422))
def list_grants(kb: KBOwner, zhiku: ZhikuDep) -> list[GrantInfo]:
    """Who may use the KB besides admins: its owner and the users granted read or write."""
    return [GrantInfo(**g) for g in zhiku.auth.grants(kb.name)]


@router.put("/api/kbs/{kb}/grants/{user}", tags=["knowledge bases"], responses=responses(400, 401, 403, 404, 422),
            dependencies=[Depends(Scope("admin"))])  # granting is managing: the admin scope, then ownership
def grant(kb: KBOwner, user: UserName, body: GrantRequest, zhiku: ZhikuDep) -> list[GrantInfo]:
    """Give a user read, write or owner access (replacing what they had); returns the KB's grants."""
    zhiku.auth.grant(kb.name, user, body.access)
    return [GrantInfo(**g) for g in zhiku.auth.grants(kb.name)]


@router.delete("/api/kbs/{kb}/grants/{user}", status_code=status.HTTP_204_NO_CONTENT, tags=["knowledge bases"],
               responses=responses(401, 403, 404, 422), dependencies=[Depends(Scope("admin"))])
def revoke_grant(kb: KBOwner, user: UserName, zhiku: ZhikuDep) -> Response:
    zhiku.auth.revoke(kb.name, user)
    return _no_204()
