"""`zhiku user ...`, `zhiku key ...` and `zhiku kb grant/revoke/access`: who may use the server.

These work on the local home (the machine the server runs on): whoever can read the data
folder is its administrator anyway. The server needs authentication as soon as one user exists.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from zhiku.cli import app, err, out, print_json, state
from zhiku.cli.commands_kb import kb_app
from zhiku.errors import InvalidInput

if TYPE_CHECKING:
    from zhiku.auth.identity import Access, Role

# what the command line accepts, as the auth service's types (the service checks them again)
_ROLES: dict[str, "Role"] = {"admin": "admin", "user": "user"}
_ACCESS: dict[str, "Access"] = {"read": "read", "write": "write", "owner": "owner"}


def _role(value: str) -> "Role":
    if value not in _ROLES:
        raise InvalidInput(f"unknown role '{value}': admin or user", role=value)
    return _ROLES[value]


def _access(value: str) -> "Access":
    if value not in _ACCESS:
        raise InvalidInput(f"unknown access '{value}': read, write or owner", access=value)
    return _ACCESS[value]

user_app = typer.Typer(help="Users of the server (authentication is on as soon as one exists).", no_args_is_help=True)
key_app = typer.Typer(help="API keys (sent as 'Authorization: Bearer <key>').", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin with ``--password-stdin``, else asked twice at a terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput("no password on standard input (--password-stdin reads its first line)")
        return password
    if not sys.stdin.isatty():
        raise InvalidInput("there is no terminal to ask for the password: pipe it in with --password-stdin")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt is not None else "-"


# -- users -------------------------------------------------------------------------------------
@user_app.command("add")
def user_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="user name: letters, digits or . _ @ + -"),
    admin: bool = typer.Option(False, "--admin", help="an administrator (manages users, keys and every KB)"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from standard input"),
) -> None:
    """Add a user (asks for the password twice). The first user switches authentication on."""
    auth = state(ctx).app().auth
    first = not auth.has_users()
    password = read_password(password_stdin)
    user = auth.create_user(name, password, "admin" if admin else "user")
    out.print(f"created user '{escape(user.name)}' ({user.role})")
    if first:
        err.print("authentication is now on: every API request needs a key. Make one with "
                  f"`zhiku key create --user {user.name}` or log in to the web UI.", markup=False)


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List users."""
    users = state(ctx).app().auth.list_users()
    if as_json:
        print_json([u.public() for u in users])
        return
    if not users:
        out.print("no users: the server is open on this machine only. Add one with `zhiku user add --admin NAME`")
        return
    table = Table("name", "role", "status", "created")
    for u in users:
        table.add_row(escape(u.name), u.role, "disabled" if u.disabled else "active", _when(u.created_at))
    out.print(table)


@user_app.command("disable")
def user_disable(ctx: typer.Context, name: str) -> None:
    """Disable a user: they cannot log in and their keys stop working (the last admin stays)."""
    state(ctx).app().auth.update_user(name, disabled=True)
    out.print(f"disabled user '{escape(name)}'")


@user_app.command("enable")
def user_enable(ctx: typer.Context, name: str) -> None:
    """Enable a disabled user again."""
    state(ctx).app().auth.update_user(name, disabled=False)
    out.print(f"enabled user '{escape(name)}'")


@user_app.command("role")
def user_role(ctx: typer.Context, name: str, role: str = typer.Argument(..., help="admin or user")) -> None:
    """Make a user an admin, or a plain user again."""
    state(ctx).app().auth.update_user(name, role=_role(role))
    out.print(f"'{escape(name)}' is now {role}")


@user_app.command("passwd")
def user_passwd(
    ctx: typer.Context, name: str,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from standard input"),
) -> None:
    """Set a user's password (their web logins end; their API keys keep working)."""
    auth = state(ctx).app().auth
    auth.user(name)  # unknown users fail before the password is asked
    auth.set_password(name, read_password(password_stdin))
    out.print(f"password of '{escape(name)}' changed")


# -- API keys ------------------------------------------------------------------------------------
@key_app.command("create")
def key_create(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", "-u", help="whose key"),
    name: str = typer.Option("", "--name", "-n", help="what the key is for"),
    scopes: Optional[List[str]] = typer.Option(
        None, "--scope", "-s", help="read, write or admin; repeat for several (default: read and write)"),
    expires_days: Optional[float] = typer.Option(None, "--expires-days", help="valid this many days (default: no end)"),
) -> None:
    """Create an API key. The secret is printed once, alone on standard output."""
    from zhiku.auth import SCOPES  # here, not at the top: `zhiku --help` must not load the database layer

    for scope in scopes or []:
        if scope not in SCOPES:
            raise InvalidInput(f"unknown scope '{scope}': use read, write or admin")
    key, secret = state(ctx).app().auth.create_key(user, name, scopes or None, expires_days)
    ends = _when(key.expires_at) if key.expires_at else "never"
    err.print(f"created API key {key.id[:8]} for '{key.user}' (scopes: {', '.join(key.scopes)}; expires: {ends}). "
              "Store it now: it is not shown again.", markup=False)
    sys.stdout.write(secret + "\n")


@key_app.command("list")
def key_list(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, "--user", "-u", help="only this user's keys"),
    revoked: bool = typer.Option(False, "--revoked", help="include revoked keys and ended logins"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List API keys (never their secrets: the prefix tells them apart)."""
    keys = state(ctx).app().auth.list_keys(user, include_revoked=revoked)
    if as_json:
        print_json([k.public() for k in keys])
        return
    if not keys:
        out.print("no API keys")
        return
    table = Table("id", "user", "name", "prefix", "scopes", "expires", "last used", "status")
    for k in keys:
        table.add_row(k.id[:12], escape(k.user), escape(k.name or k.kind), k.prefix + "…", ",".join(k.scopes),
                      _when(k.expires_at) if k.expires_at else "never", _when(k.last_used_at),
                      "revoked" if k.revoked else "active")
    out.print(table)


@key_app.command("revoke")
def key_revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="key id, or its first characters")) -> None:
    """Revoke an API key at once."""
    key = state(ctx).app().auth.revoke_key(key_id)
    out.print(f"revoked API key {key.id[:12]} of '{escape(key.user)}'")


# -- who may use a knowledge base --------------------------------------------------------------
@kb_app.command("grant")
def kb_grant(
    ctx: typer.Context, kb: str, user: str,
    access: str = typer.Option("read", "--access", "-a", help="read, write or owner"),
) -> None:
    """Let a user read (or also change, or own) a knowledge base. Admins reach every KB anyway."""
    state(ctx).app().auth.grant(kb, user, _access(access))
    out.print(f"'{escape(user)}' has {access} access to '{escape(kb)}'")


@kb_app.command("revoke")
def kb_revoke(ctx: typer.Context, kb: str, user: str) -> None:
    """Take a user's access to a knowledge base away."""
    state(ctx).app().auth.revoke(kb, user)
    out.print(f"'{escape(user)}' no longer has access to '{escape(kb)}'")


@kb_app.command("access")
def kb_access(ctx: typer.Context, kb: str, as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Who may use a knowledge base besides admins."""
    grants = state(ctx).app().auth.grants(kb)
    if as_json:
        print_json(grants)
        return
    if not grants:
        out.print(f"'{escape(kb)}' has no owner: only admins reach it when authentication is on. "
                  f"Give it one with `zhiku kb grant {escape(kb)} USER --access owner`")
        return
    table = Table("user", "access", "since")
    for g in grants:
        table.add_row(escape(g["user"]), g["access"], _when(g["created_at"]))
    out.print(table)
