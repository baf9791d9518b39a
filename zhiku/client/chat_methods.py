"""The chat half of the typed client: conversations, messages, feedback, stateless chat and
file chat uploads. ``ZhikuClient`` and ``AsyncZhikuClient`` (``zhiku.client``) include these
methods; the calls are described once in ``zhiku.client.chat_routes``.

Streamed answers come as ``ChatEvent`` objects whose ``type`` is ``start`` (``info``: mode,
model, conversation and question ids), ``delta`` (``text``), ``citations`` (``citations``),
``error`` (``error``: type, message, details — the answer failed after it started) and
``done`` (``message``: the assistant message as stored). Leaving the loop early closes the
connection, which stops the answer on the server; the part written so far is stored as
``stopped``. An answer that fails before it starts raises the error (e.g. ``Unavailable``).

    conv = zk.create_conversation("kb", kbs=["手册"])
    for ev in zk.send_message_stream(conv.id, "年假有几天？"):
        if ev.type == "delta":
            print(ev.text, end="")
"""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, Sequence

from zhiku.client.chat_routes import ChatRoutes, overrides
from zhiku.client.events import ChatEvent, chat_event
from zhiku.client.routes import UploadItem, upload_parts
from zhiku.errors import Unavailable
from zhiku.schema.chat import Conversation, Feedback, Message, TempKB

Turns = Sequence[dict[str, str]]


class ChatMethods:
    """Chat methods of ``ZhikuClient``."""

    if TYPE_CHECKING:  # provided by the client
        def _do(self, call: Any, **kw: Any) -> Any: ...
        def _send(self, call: Any, **kw: Any) -> Any: ...
        def _events(self, call: Any) -> Iterator[tuple[str, str]]: ...

    def create_conversation(self, mode: str = "kb", *, title: str | None = None,
                            kbs: str | Sequence[str] | None = None, model: str | None = None,
                            settings: dict[str, Any] | None = None) -> Conversation:
        kb_list = [kbs] if isinstance(kbs, str) else kbs
        return self._do(ChatRoutes.create_conversation(mode, title, kb_list, model, settings))

    def list_conversations(self, limit: int = 100, offset: int = 0) -> list[Conversation]:
        """The caller's conversations, most recently active first."""
        return self._do(ChatRoutes.list_conversations(limit, offset))

    def get_conversation(self, conversation_id: str) -> Conversation:
        """The conversation with its messages (each with its feedback)."""
        return self._do(ChatRoutes.get_conversation(conversation_id))

    def rename_conversation(self, conversation_id: str, title: str) -> Conversation:
        return self._do(ChatRoutes.update_conversation(conversation_id, title, None, None))

    def update_conversation(self, conversation_id: str, *, title: str | None = None, mode: str | None = None,
                            settings: dict[str, Any] | None = None) -> Conversation:
        """Change the title, the mode, or some settings (the keys given; a None value removes one)."""
        return self._do(ChatRoutes.update_conversation(conversation_id, title, mode, settings))

    def delete_conversation(self, conversation_id: str) -> None:
        self._do(ChatRoutes.delete_conversation(conversation_id))

    def export_conversation(self, conversation_id: str) -> str:
        """The conversation as Markdown."""
        return self._send(ChatRoutes.export_conversation(conversation_id)).text

    def send_message(self, conversation_id: str, content: str, **choices: Any) -> Message:
        """Ask in the conversation; returns the stored answer. ``choices``: mode, kbs, temp_kb, model,
        temperature, top_k, strict, retrieval (each overrides the conversation's setting for this answer)."""
        return self._do(ChatRoutes.send_message(conversation_id, content, False, overrides(**choices)))

    def send_message_stream(self, conversation_id: str, content: str, **choices: Any) -> Iterator[ChatEvent]:
        call = ChatRoutes.send_message(conversation_id, content, True, overrides(**choices))
        for name, data in self._events(call):
            if (ev := chat_event(name, data)) is not None:
                yield ev

    def feedback(self, message_id: str, rating: str, reason: str | None = None) -> Feedback:
        """Rate an answer ``up`` or ``down`` (a new rating replaces the old one)."""
        return self._do(ChatRoutes.feedback(message_id, rating, reason))

    def chat(self, mode: str, messages: str | Turns, **choices: Any) -> Message:
        """Stateless chat (nothing stored): ``messages`` is the question or role/content turns."""
        turns = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
        return self._do(ChatRoutes.chat(mode, turns, False, overrides(**choices)))

    def chat_stream(self, mode: str, messages: str | Turns, **choices: Any) -> Iterator[ChatEvent]:
        turns = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
        for name, data in self._events(ChatRoutes.chat(mode, turns, True, overrides(**choices))):
            if (ev := chat_event(name, data)) is not None:
                yield ev

    def upload_chat_files(self, files: Sequence[UploadItem]) -> TempKB:
        """Upload files to chat with (mode ``file``, ``temp_kb=result.id``) once they are ready."""
        with ExitStack() as stack:
            return self._do(ChatRoutes.upload_chat_files(), files=upload_parts(files, stack))

    def get_chat_files(self, temp_kb: str) -> TempKB:
        return self._do(ChatRoutes.get_chat_files(temp_kb))

    def delete_chat_files(self, temp_kb: str) -> None:
        self._do(ChatRoutes.delete_chat_files(temp_kb))

    def wait_for_chat_files(self, temp_kb: str, timeout: float | None = None, poll_s: float = 0.2) -> TempKB:
        """Poll until the uploaded files are read (status ready or failed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (info := self.get_chat_files(temp_kb)).status == "ingesting":
            if deadline is not None and time.monotonic() > deadline:
                raise Unavailable(f"files {temp_kb} still being read after {timeout} s", temp_kb=temp_kb)
            time.sleep(poll_s)
        return info


class AsyncChatMethods:
    """Chat methods of ``AsyncZhikuClient`` (the same as ``ChatMethods``, to be awaited)."""

    if TYPE_CHECKING:  # provided by the client
        async def _do(self, call: Any, **kw: Any) -> Any: ...
        async def _send(self, call: Any, **kw: Any) -> Any: ...
        def _events(self, call: Any) -> AsyncIterator[tuple[str, str]]: ...

    async def create_conversation(self, mode: str = "kb", *, title: str | None = None,
                                  kbs: str | Sequence[str] | None = None, model: str | None = None,
                                  settings: dict[str, Any] | None = None) -> Conversation:
        kb_list = [kbs] if isinstance(kbs, str) else kbs
        return await self._do(ChatRoutes.create_conversation(mode, title, kb_list, model, settings))

    async def list_conversations(self, limit: int = 100, offset: int = 0) -> list[Conversation]:
        return await self._do(ChatRoutes.list_conversations(limit, offset))

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return await self._do(ChatRoutes.get_conversation(conversation_id))

    async def rename_conversation(self, conversation_id: str, title: str) -> Conversation:
        return await self._do(ChatRoutes.update_conversation(conversation_id, title, None, None))

    async def update_conversation(self, conversation_id: str, *, title: str | None = None,
                                  mode: str | None = None, settings: dict[str, Any] | None = None) -> Conversation:
        return await self._do(ChatRoutes.update_conversation(conversation_id, title, mode, settings))

    async def delete_conversation(self, conversation_id: str) -> None:
        await self._do(ChatRoutes.delete_conversation(conversation_id))

    async def export_conversation(self, conversation_id: str) -> str:
        return (await self._send(ChatRoutes.export_conversation(conversation_id))).text

    async def send_message(self, conversation_id: str, content: str, **choices: Any) -> Message:
        return await self._do(ChatRoutes.send_message(conversation_id, content, False, overrides(**choices)))

    async def send_message_stream(self, conversation_id: str, content: str,
                                  **choices: Any) -> AsyncIterator[ChatEvent]:
        call = ChatRoutes.send_message(conversation_id, content, True, overrides(**choices))
        async for name, data in self._events(call):
            if (ev := chat_event(name, data)) is not None:
                yield ev

    async def feedback(self, message_id: str, rating: str, reason: str | None = None) -> Feedback:
        return await self._do(ChatRoutes.feedback(message_id, rating, reason))

    async def chat(self, mode: str, messages: str | Turns, **choices: Any) -> Message:
        turns = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
        return await self._do(ChatRoutes.chat(mode, turns, False, overrides(**choices)))

    async def chat_stream(self, mode: str, messages: str | Turns, **choices: Any) -> AsyncIterator[ChatEvent]:
        turns = [{"role": "user", "content": messages}] if isinstance(messages, str) else list(messages)
        async for name, data in self._events(ChatRoutes.chat(mode, turns, True, overrides(**choices))):
            if (ev := chat_event(name, data)) is not None:
                yield ev

    async def upload_chat_files(self, files: Sequence[UploadItem]) -> TempKB:
        with ExitStack() as stack:
            return await self._do(ChatRoutes.upload_chat_files(), files=upload_parts(files, stack))

    async def get_chat_files(self, temp_kb: str) -> TempKB:
        return await self._do(ChatRoutes.get_chat_files(temp_kb))

    async def delete_chat_files(self, temp_kb: str) -> None:
        await self._do(ChatRoutes.delete_chat_files(temp_kb))

    async def wait_for_chat_files(self, temp_kb: str, timeout: float | None = None,
                                  poll_s: float = 0.2) -> TempKB:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (info := await self.get_chat_files(temp_kb)).status == "ingesting":
            if deadline is not None and time.monotonic() > deadline:
                raise Unavailable(f"files {temp_kb} still being read after {timeout} s", temp_kb=temp_kb)
            await asyncio.sleep(poll_s)
        return info
