"""The chat routes' half of the wire protocol (``zhiku.client.routes`` has the rest): what each
call sends and returns. A streamed answer's events are ``zhiku.client.events.ChatEvent``.
"""

from __future__ import annotations

from typing import Any, Sequence

from zhiku.client.routes import Call, parse_as, seg
from zhiku.schema.chat import Conversation, Feedback, Message, TempKB


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _conv(cid: str) -> str:
    return f"/api/conversations/{seg(cid)}"


class ChatRoutes:
    """Conversations, messages, feedback, stateless chat and file chat uploads."""

    @staticmethod
    def create_conversation(mode: str, title: str | None, kbs: Sequence[str] | None, model: str | None,
                            settings: dict[str, Any] | None) -> Call:
        body = _drop_none({"mode": mode, "title": title, "kbs": list(kbs) if kbs is not None else None,
                           "model": model, "settings": settings})
        return Call("POST", "/api/conversations", parse_as(Conversation), json=body)

    @staticmethod
    def list_conversations(limit: int, offset: int) -> Call:
        return Call("GET", "/api/conversations", parse_as(list[Conversation]),
                    params={"limit": limit, "offset": offset})

    get_conversation = staticmethod(lambda cid: Call("GET", _conv(cid), parse_as(Conversation)))
    delete_conversation = staticmethod(lambda cid: Call("DELETE", _conv(cid)))
    export_conversation = staticmethod(lambda cid: Call("GET", _conv(cid) + "/export"))

    @staticmethod
    def update_conversation(cid: str, title: str | None, mode: str | None, settings: dict[str, Any] | None) -> Call:
        body = _drop_none({"title": title, "mode": mode, "settings": settings})
        return Call("PATCH", _conv(cid), parse_as(Conversation), json=body)

    @staticmethod
    def send_message(cid: str, content: str, stream: bool, overrides: dict[str, Any]) -> Call:
        body = {"content": content, "stream": stream, **_drop_none(overrides)}
        return Call("POST", _conv(cid) + "/messages", parse_as(Message), json=body)

    @staticmethod
    def feedback(message_id: str, rating: str, reason: str | None) -> Call:
        return Call("POST", f"/api/messages/{seg(message_id)}/feedback", parse_as(Feedback),
                    json=_drop_none({"rating": rating, "reason": reason}))

    @staticmethod
    def chat(mode: str, messages: Sequence[dict[str, str]], stream: bool, overrides: dict[str, Any]) -> Call:
        body = {"mode": mode, "messages": list(messages), "stream": stream, **_drop_none(overrides)}
        return Call("POST", "/api/chat", parse_as(Message), json=body)

    upload_chat_files = staticmethod(lambda: Call("POST", "/api/chat/files", parse_as(TempKB)))
    get_chat_files = staticmethod(lambda tid: Call("GET", f"/api/chat/files/{seg(tid)}", parse_as(TempKB)))
    delete_chat_files = staticmethod(lambda tid: Call("DELETE", f"/api/chat/files/{seg(tid)}"))


def overrides(kbs: str | Sequence[str] | None = None, temp_kb: str | None = None, model: str | None = None,
              temperature: float | None = None, top_k: int | None = None, strict: bool | None = None,
              mode: str | None = None, retrieval: str | None = None, agentic: bool | None = None) -> dict[str, Any]:
    """The per-answer choices of a message or a stateless chat, as sent (``retrieval``: hybrid,
    dense or lexical search; ``agentic``: kb mode's agentic retrieval)."""
    kb_list = [kbs] if isinstance(kbs, str) else list(kbs) if kbs is not None else None
    return {"kbs": kb_list, "temp_kb": temp_kb, "model": model, "temperature": temperature, "top_k": top_k,
            "strict": strict, "mode": mode, "retrieval": retrieval, "agentic": agentic}
