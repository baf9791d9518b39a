"""The HTTP API: ``create_app(zhiku)`` builds the FastAPI app; ``zhiku start`` serves it.

Imported lazily, so that ``zhiku.api.sse`` or ``zhiku.api.errors`` can be used without building the app.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from zhiku.api.app import create_app

        return create_app
    raise AttributeError(name)
