"""Fetch result pages through the SSRF guard, with size and time caps.

Each hop's URL is checked by ``UrlGuard`` and the connection goes to the address
that was checked (the original host travels in the Host header and as the TLS
server name, so certificates are still verified against it). Redirects are
followed by hand, each one re-checked, at most ``max_redirects``. The body is
streamed and cut at ``max_bytes`` (the page is kept, marked ``truncated``); the
whole fetch, redirects included, must finish within ``timeout_s``. Only HTML,
XHTML and plain text are read. Proxies from the environment are ignored: a proxy
would connect to whatever the name resolves to at its end, bypassing the guard.
"""

from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from zhiku.websearch.base import USER_AGENT, FetchFailed, FetchRefused
from zhiku.websearch.guard import Target, UrlGuard

log = logging.getLogger(__name__)

TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Page:
    url: str  # the URL asked for
    final_url: str  # after redirects
    content_type: str
    text: str
    truncated: bool = False
    redirects: int = 0

    @property
    def is_html(self) -> bool:
        return self.content_type in ("text/html", "application/xhtml+xml")


def _decode(data: bytes, charset: str | None, html: bool) -> str:
    if charset:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    if html:
        from zhiku.ingest.loaders.html import decode_html

        return decode_html(data)
    from zhiku.ingest.loaders.encoding import decode_bytes

    return decode_bytes(data)


class PageFetcher:
    def __init__(self, guard: UrlGuard, max_bytes: int = 1 << 20, timeout_s: float = 8.0,
                 max_redirects: int = 5, verify: ssl.SSLContext | bool = True) -> None:
        self.guard = guard
        self.verify = verify  # certificates are checked against the URL's host name, never the address
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_redirects = max_redirects

    def fetch(self, url: str, deadline: float | None = None) -> Page:
        """The page at ``url``; ``FetchRefused`` when the guard refuses a hop, ``FetchFailed`` otherwise.
        ``deadline`` (time.monotonic) can only shorten the fetch's own time cap."""
        own = time.monotonic() + self.timeout_s
        deadline = min(own, deadline) if deadline is not None else own
        current = url
        with httpx.Client(trust_env=False, follow_redirects=False, verify=self.verify) as client:
            for hop in range(self.max_redirects + 1):
                target = self.guard.check(current)
                location = self._get(client, target, url, deadline, hop)
                if isinstance(location, Page):
                    return location
                current = urljoin(current, location)
        raise FetchFailed(f"{url}: more than {self.max_redirects} redirects", url=url)

    def _get(self, client: httpx.Client, target: Target, url: str, deadline: float, hop: int) -> Page | str:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchFailed(f"{url}: took longer than {self.timeout_s:g} s", url=url)
        headers = {"Host": target.host_header, "User-Agent": USER_AGENT,
                   "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1"}
        extensions = {"sni_hostname": target.host} if target.scheme == "https" and target.is_name else {}
        request = client.build_request("GET", target.connect_url, headers=headers, extensions=extensions,
                                       timeout=httpx.Timeout(remaining))
        try:
            response = client.send(request, stream=True)
        except httpx.TimeoutException:
            raise FetchFailed(f"{url}: took longer than {self.timeout_s:g} s", url=url) from None
        except httpx.HTTPError as exc:
            raise FetchFailed(f"{url}: cannot be fetched ({type(exc).__name__}: {exc})", url=url) from None
        try:
            if response.status_code in REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise FetchFailed(f"{url}: a redirect without a Location", url=url)
                if hop >= self.max_redirects:
                    raise FetchFailed(f"{url}: more than {self.max_redirects} redirects", url=url)
                return location
            if response.status_code >= 400:
                raise FetchFailed(f"{url}: the server answered HTTP {response.status_code}", url=url,
                                  status=response.status_code)
            ctype = response.headers.get("content-type", "").split(";")[0].strip().lower() or "text/html"
            if ctype not in TEXT_TYPES:
                raise FetchFailed(f"{url}: {ctype} is not a page zhiku reads (HTML or plain text)", url=url,
                                  content_type=ctype)
            data, truncated = self._read(response, url, deadline)
        finally:
            response.close()
        text = _decode(data, response.charset_encoding, ctype != "text/plain")
        return Page(url=url, final_url=target.url, content_type=ctype, text=text, truncated=truncated, redirects=hop)

    def _read(self, response: httpx.Response, url: str, deadline: float) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                if time.monotonic() > deadline:
                    raise FetchFailed(f"{url}: took longer than {self.timeout_s:g} s", url=url)
                chunks.append(chunk)
                size += len(chunk)
                if size >= self.max_bytes:
                    return b"".join(chunks)[: self.max_bytes], True
        except httpx.TimeoutException:
            raise FetchFailed(f"{url}: took longer than {self.timeout_s:g} s", url=url) from None
        except httpx.HTTPError as exc:
            raise FetchFailed(f"{url}: the transfer broke off ({type(exc).__name__})", url=url) from None
        return b"".join(chunks), False


__all__ = ["FetchFailed", "FetchRefused", "Page", "PageFetcher"]
