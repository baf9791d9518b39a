"""Langchain-Chatchat's own clients, vendored under tests/vendor/chatchat (see its README): the web
UI's ``ApiRequest`` (webui_pages/utils.py, 0.3.1.3) and the python SDK (``open_chatcaht``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx

VENDOR = Path(__file__).resolve().parents[1] / "vendor" / "chatchat"
if str(VENDOR) not in sys.path:
    sys.path.insert(0, str(VENDOR))

from chatchat.webui_pages.utils import ApiRequest  # noqa: E402  (Chatchat's code, unmodified)
from open_chatcaht.chatchat_api import ChatChat  # noqa: E402

__all__ = ["ApiRequest", "ChatChat", "api_request", "sdk"]


def api_request(url: str) -> Any:
    """ApiRequest as the web UI makes it (``ApiRequest(base_url=api_address())``)."""
    return ApiRequest(base_url=url)


def sdk(url: str) -> Any:
    """The SDK's ``ChatChat(base_url=...)``; each part gets the httpx client the SDK would build
    (its own builder passes ``proxies=``, which httpx 0.28 removed: see the vendor README)."""
    chat = ChatChat(base_url=url)
    for part in (chat.knowledge, chat.tool, chat.server, chat.chat, chat.openai_adapter):
        part._client = httpx.Client(base_url=url, timeout=60)
    return chat
