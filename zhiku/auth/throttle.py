"""Wrong passwords slow an attacker down without locking the real user out.

Three counters of failed logins over ``LOGIN_WINDOW_S``:

* **per user name** (``LOGIN_FAILURES``): past it, logins with that name pause (429), except from a
  *known client* of that user: one that presents a device token this server handed it at an earlier
  successful login as that user (header ``X-Zhiku-Device`` on ``POST /api/auth/login``; the answer
  carries the token to keep). So five wrong passwords from somewhere else do not lock the user out
  of their own browser or script, and an attacker cannot present a device token (it is random and
  only given after the right password).
* **per client address** (``CLIENT_FAILURES``, any names): one address trying many names pauses.
  Loopback is not counted here: zhiku's own web UI logs its users in from the server itself, so an
  address-based pause there would shut every UI user out together (they keep the per-name limit).

Device tokens are kept in memory (sha256 only, ``DEVICES_PER_USER`` newest per user, for
``DEVICE_TTL_S``): a restart forgets them, which only means the per-name limit applies again until
the next successful login.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
import time
from collections import OrderedDict, deque

from zhiku.auth.identity import LOGIN_FAILURES, LOGIN_WINDOW_S
from zhiku.errors import RateLimited

CLIENT_FAILURES = 20
DEVICES_PER_USER = 20
DEVICE_TTL_S = 90 * 86400.0
_MAX_TRACKED = 10_000


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _loopback(client: str | None) -> bool:
    if not client:
        return True  # in-process callers (the CLI, tests) have no address
    try:
        return ipaddress.ip_address(client.split("%")[0]).is_loopback
    except ValueError:
        return False


class LoginThrottle:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, deque[float]] = {}
        self._clients: dict[str, deque[float]] = {}
        self._devices: dict[str, OrderedDict[str, float]] = {}

    @staticmethod
    def _recent(table: dict[str, deque[float]], key: str, now: float) -> deque[float]:
        q = table.setdefault(key, deque())
        while q and now - q[0] > LOGIN_WINDOW_S:
            q.popleft()
        return q

    def known(self, name: str, device: str | None) -> bool:
        """Whether ``device`` is a token this server gave a client of ``name`` at a successful login."""
        if not device or len(device) > 200:
            return False
        with self._lock:
            seen = self._devices.get(name, OrderedDict()).get(_digest(device))
        return seen is not None and time.time() - seen < DEVICE_TTL_S

    def check(self, name: str, client: str | None, known: bool) -> None:
        """Raise ``RateLimited`` when this login must wait."""
        now = time.monotonic()
        with self._lock:
            if not _loopback(client):
                by_client = self._recent(self._clients, client or "", now)
                if len(by_client) >= CLIENT_FAILURES:
                    wait = int(LOGIN_WINDOW_S - (now - by_client[0])) + 1
                    raise RateLimited(f"too many failed logins from this address: try again in {wait} s",
                                      retry_after=wait)
            by_name = self._recent(self._names, name, now)
            if not known and len(by_name) >= LOGIN_FAILURES:
                wait = int(LOGIN_WINDOW_S - (now - by_name[0])) + 1
                raise RateLimited(f"too many failed logins for '{name}': try again in {wait} s (or from a "
                                  "client that logged in as this user before)", retry_after=wait)

    def failed(self, name: str, client: str | None) -> None:
        now = time.monotonic()
        with self._lock:
            for table, key in ((self._names, name), (self._clients, client or "")):
                if table is self._clients and _loopback(client):
                    continue
                if len(table) > _MAX_TRACKED:  # many names or addresses tried: forget the stale ones
                    stale = [k for k, v in table.items() if not v or now - v[-1] > LOGIN_WINDOW_S]
                    for k in stale:
                        del table[k]
                table.setdefault(key, deque()).append(now)

    def succeeded(self, name: str, client: str | None, device: str | None, known: bool = False) -> str:
        """Clear the counters this login's success answers, and return the client's device token (the
        one it presented if known, else a new one). A known client's success leaves the name's count
        alone: it may have come in past the pause, which stays for the others."""
        with self._lock:
            if not known:
                self._names.pop(name, None)
            if not _loopback(client):
                self._clients.pop(client or "", None)
            devices = self._devices.setdefault(name, OrderedDict())
            token = device if device and _digest(device) in devices else secrets.token_urlsafe(24)
            devices[_digest(token)] = time.time()
            devices.move_to_end(_digest(token))
            while len(devices) > DEVICES_PER_USER:
                devices.popitem(last=False)
            if len(self._devices) > _MAX_TRACKED:
                self._devices.pop(next(iter(self._devices)))
        return token
