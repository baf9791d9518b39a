"""Stand-in for ``chatchat.server.utils`` (zhiku's tests): the four helpers ``ApiRequest``
imports. ``get_httpx_client`` builds the plain ``httpx.Client`` Chatchat's does, without its
proxy table (httpx 0.28 removed the ``proxies`` argument; the tests talk to 127.0.0.1)."""

from typing import Any

import httpx


def api_address(is_public: bool = False) -> str:
    return "http://127.0.0.1:7861"  # Chatchat's default API_SERVER


def set_httpx_config(*args: Any, **kwargs: Any) -> None:
    """Chatchat sets httpx's default timeouts and proxy environment here; nothing to do in tests."""


def get_httpx_client(use_async: bool = False, timeout: float = 300.0, **kwargs: Any) -> httpx.Client | httpx.AsyncClient:
    kwargs.pop("proxies", None)
    kwargs.pop("unused_proxies", None)
    if use_async:
        return httpx.AsyncClient(timeout=timeout, **kwargs)
    return httpx.Client(timeout=timeout, **kwargs)


def get_default_embedding() -> str:
    return "bge-large-zh-v1.5"  # Chatchat 0.3's DEFAULT_EMBEDDING_MODEL
