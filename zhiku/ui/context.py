"""Where the UI's API lives, set once by :func:`zhiku.ui.server.mount_ui` (same process)."""

from __future__ import annotations

import os

from zhiku.client import ZhikuClient

_API_URL: list[str] = []
ENV_URL = "ZHIKU_UI_API_URL"  # for running the pages on their own (AppTest, ``streamlit run``)


def configure(api_url: str) -> None:
    _API_URL[:] = [api_url.rstrip("/")]


def api_url() -> str:
    return _API_URL[0] if _API_URL else os.environ.get(ENV_URL, "http://127.0.0.1:7861")


def client(api_key: str | None = None) -> ZhikuClient:
    """A client of this server's API, as the signed-in user when there is one."""
    return ZhikuClient(api_url(), api_key=api_key, timeout=300.0)
