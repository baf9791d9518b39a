"""What every search engine returns, the protocol engines implement, and their errors.

An engine is configured by the administrator (``websearch.engine`` and its base URL), so
its endpoint is trusted and called directly; the *result pages* it returns are not, and
are fetched only through the SSRF guard in ``zhiku.websearch.fetch``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import httpx

from zhiku.errors import InvalidInput, Unavailable
from zhiku.schema import WebResult  # one of the nouns: answers carry them

log = logging.getLogger(__name__)

USER_AGENT = "zhiku-websearch/1 (+https://github.com/zhiku)"


class SearchUnavailable(Unavailable):
    """The search engine could not be reached, refused the request or answered nonsense."""

    kind = "search_unavailable"


class FetchRefused(InvalidInput):
    """The SSRF guard refused a URL: a scheme, host or address a result page may not have."""

    kind = "fetch_refused"


class FetchFailed(Unavailable):
    """A result page could not be fetched: unreachable, too slow, an HTTP error, not text."""

    kind = "fetch_failed"


@runtime_checkable
class SearchEngine(Protocol):
    name: str

    def search(self, query: str, limit: int = 5, lang: str | None = None) -> list[WebResult]:
        """Up to ``limit`` results, best first; ``lang`` is "zh", "en" or None (any)."""
        ...


def check_query(query: str, limit: int) -> str:
    query = (query or "").strip()
    if not query:
        raise InvalidInput("the search query is empty")
    if limit < 1 or limit > 50:
        raise InvalidInput(f"the number of results must be between 1 and 50 (got {limit})")
    return query


class EngineClient:
    """HTTP calls to an engine's API with its errors turned into ``SearchUnavailable``."""

    def __init__(self, engine: str, base_url: str, timeout_s: float, headers: Mapping[str, str] | None = None):
        self.engine = engine
        self.base_url = base_url.rstrip("/")
        self.timeout = httpx.Timeout(timeout_s)
        self.headers = {"User-Agent": USER_AGENT, **(headers or {})}

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None, data: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None) -> httpx.Response:
        url = self.base_url + path
        try:
            # trust_env=False: an engine named in the settings is called directly, not via *_PROXY
            with httpx.Client(timeout=self.timeout, trust_env=False, follow_redirects=True) as client:
                response = client.request(method, url, params=params, json=json_body, data=data,
                                          headers={**self.headers, **(headers or {})})
        except httpx.TimeoutException:
            raise SearchUnavailable(f"the {self.engine} search engine at {self.base_url} did not answer in time",
                                    engine=self.engine) from None
        except httpx.HTTPError as exc:
            raise SearchUnavailable(
                f"the {self.engine} search engine at {self.base_url} cannot be reached: {type(exc).__name__}: {exc}",
                engine=self.engine) from None
        self._check_status(response)
        return response

    def _check_status(self, response: httpx.Response) -> None:
        code = response.status_code
        if code < 400:
            return
        what = {401: "refused the API key (401)", 403: "refused the request (403)",
                429: "says too many requests (429); try again later"}.get(code, f"answered HTTP {code}")
        raise SearchUnavailable(f"the {self.engine} search engine {what}", engine=self.engine, status=code)

    def json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SearchUnavailable(f"the {self.engine} search engine answered something that is not JSON",
                                    engine=self.engine) from None


def clean(text: Any) -> str:
    return " ".join(str(text or "").split())


def web_url(url: Any) -> str | None:
    """The URL when it is an absolute http(s) URL, else None (results without one are skipped)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    return url if url.lower().startswith(("http://", "https://")) else None
