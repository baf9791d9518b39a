"""The typed Python client of zhiku's API, and the wire protocol both ends speak.

``ZhikuClient`` (sync) and ``AsyncZhikuClient`` (async) live in ``zhiku.client.http``; each
route is described once in ``zhiku.client.routes`` (and ``chat_routes``), the request and
response bodies are ``zhiku.client.models``, ``auth_models`` and ``chat_models``, and streamed
responses arrive as the typed events of ``zhiku.client.events``. The server's routes validate
with the same models, so the two ends cannot drift apart.

The package imports nothing of the server: only itself, ``zhiku.errors`` and the nouns of
``zhiku.schema``, so ``import zhiku.client`` stays light (no SQLAlchemy, NumPy or FastAPI).
A test walks its imports.
"""

from zhiku.client.events import AnswerEvent, ChatEvent
from zhiku.client.http import AsyncZhikuClient, ZhikuClient
from zhiku.client.routes import error_from_response

__all__ = ["AnswerEvent", "AsyncZhikuClient", "ChatEvent", "ZhikuClient", "error_from_response"]
