"""Signing in to the web UI with a cookie, so that a login survives a page refresh.

The sign-in page posts a plain HTML form to ``POST /ui/login``; this route logs in through the API
(``zhiku.client``), puts the session token in an HttpOnly, SameSite=Strict cookie and sends the
browser back to the page it came from. Streamlit reads the cookie (``st.context.cookies``) and the
UI sends the token to the API as its bearer key. ``POST /ui/logout`` revokes the token and clears
the cookie. Both refuse a cross-site post (its Origin is not this server).

The login's device token (``X-Zhiku-Device``, see ``zhiku.auth.throttle``) is kept in a second
cookie, ``zhiku_device`` (HttpOnly, SameSite=Strict, kept after sign-out), and sent with this
browser's next sign-ins: wrong passwords typed elsewhere pause the name for others, not for the
browser its user signs in with.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from zhiku.errors import ZhikuError
from zhiku.ui import context

log = logging.getLogger(__name__)
COOKIE = "zhiku_token"
DEVICE_COOKIE = "zhiku_device"
DEVICE_MAX_AGE = 90 * 86400  # as long as the server remembers a device (zhiku.auth.throttle.DEVICE_TTL_S)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host")


def _back(target: str, **params: str) -> str:
    """A path of this site to return to (never another site); with ``params`` added."""
    path = target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"
    if params:
        sep = "&" if "?" in path else "?"
        path += sep + "&".join(f"{k}={quote(v)}" for k, v in params.items())
    return path


async def login(request: Request) -> Response:
    if not _same_origin(request):
        return Response("cross-site sign-in refused", status_code=403)
    form = await request.form()
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    nxt = str(form.get("next", "/"))
    device = request.cookies.get(DEVICE_COOKIE) or None
    try:
        with context.client() as zk:
            result = await _in_thread(zk.login, username, password, device)
            device = zk.device_token or device
    except ZhikuError as exc:
        log.info("web sign-in of %r refused: %s", username, exc)
        return RedirectResponse(_back(nxt, login_error=str(exc)[:200], login_code=exc.kind), status_code=303)
    response = RedirectResponse(_back(nxt), status_code=303)
    if device:
        response.set_cookie(DEVICE_COOKIE, device, max_age=DEVICE_MAX_AGE, httponly=True, samesite="strict",
                            path="/ui/login", secure=request.url.scheme == "https")
    max_age = None
    if result.expires_at is not None:
        max_age = max(int((result.expires_at - datetime.now(timezone.utc)).total_seconds()), 0)
    response.set_cookie(COOKIE, result.token, max_age=max_age, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    if not _same_origin(request):
        return Response("cross-site sign-out refused", status_code=403)
    form = await request.form()
    token = request.cookies.get(COOKIE)
    if token:
        try:
            with context.client(token) as zk:
                await _in_thread(zk.logout)
        except ZhikuError as exc:  # an expired or revoked token: signing out is done anyway
            log.info("web sign-out: %s", exc)
    response = RedirectResponse(_back(str(form.get("next", "/")), signed_out="1"), status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def _in_thread(fn: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


ROUTES = [Route("/ui/login", login, methods=["POST"]), Route("/ui/logout", logout, methods=["POST"])]
