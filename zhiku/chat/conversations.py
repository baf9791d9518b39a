"""Conversations, their messages and feedback, kept in the metadata database.

A conversation belongs to one owner (the API's principal); every read and change names
the owner, and another owner's conversation reads as not found. Messages are numbered
in order (``seq``); the history of a new question is the conversation's earlier
complete turns. Feedback is one rating per assistant message (a new one replaces it).
"""

from __future__ import annotations

import builtins
import re
from typing import Any, Sequence

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from zhiku.schema.chat import MODES, Conversation, ConversationSettings, Feedback, Message
from zhiku.errors import InvalidInput, NotFound
from zhiku.schema import Citation, ToolStep
from zhiku.store.catalog import as_utc
from zhiku.text.ids import new_id, now
from zhiku.store.db import conversations, feedback, messages

TITLE_MAX = 200


def _conversation(row: Any, msgs: list[Message] | None = None) -> Conversation:
    return Conversation(
        id=row.id, owner=row.owner, title=row.title, mode=row.mode,
        settings=ConversationSettings(**(row.settings or {})), created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at), messages=msgs)


def _feedback(row: Any) -> Feedback:
    return Feedback(message_id=row.message_id, rating=row.rating, reason=row.reason, created_at=as_utc(row.created_at))


def _message(row: Any, fb: Feedback | None = None) -> Message:
    return Message(
        id=row.id, conversation_id=row.conversation_id, seq=row.seq, role=row.role, content=row.content,
        mode=row.mode, model=row.model, status=row.status, citations=[Citation(**c) for c in row.citations or []],
        latency_ms=row.latency_ms, usage=row.usage, error=row.error, meta=dict(row.meta or {}),
        trace=[ToolStep(**step) for step in row.trace] if row.trace else None,
        created_at=as_utc(row.created_at), feedback=fb)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidInput(f"unknown chat mode '{mode}' ({', '.join(MODES)})", mode=mode)
    return mode


def title_from(question: str, chars: int) -> str:
    line = re.sub(r"\s+", " ", question).strip()
    return line if len(line) <= chars else line[: chars - 1].rstrip() + "…"


class Conversations:
    def __init__(self, engine: Engine, title_chars: int = 40) -> None:
        self.engine = engine
        self.title_chars = title_chars

    # -- conversations -------------------------------------------------------------
    def create(self, owner: str, mode: str, title: str | None = None,
               settings: ConversationSettings | dict[str, Any] | None = None) -> Conversation:
        check_mode(mode)
        chosen = settings if isinstance(settings, ConversationSettings) else ConversationSettings(**(settings or {}))
        ts, cid = now(), new_id()
        with self.engine.begin() as conn:
            conn.execute(insert(conversations).values(
                id=cid, owner=owner, title=self._title(title or ""), mode=mode,
                settings=chosen.model_dump(exclude_none=True), created_at=ts, updated_at=ts))
        return self.get(owner, cid, with_messages=False)

    @staticmethod
    def _title(title: str) -> str:
        title = re.sub(r"\s+", " ", title).strip()
        if len(title) > TITLE_MAX:
            raise InvalidInput(f"a conversation title is at most {TITLE_MAX} characters")
        return title

    def list(self, owner: str, limit: int = 100, offset: int = 0) -> list[Conversation]:
        q = (select(conversations).where(conversations.c.owner == owner)
             .order_by(conversations.c.updated_at.desc(), conversations.c.id).limit(limit).offset(offset))
        with self.engine.connect() as conn:
            return [_conversation(r) for r in conn.execute(q)]

    def _row(self, conn: Any, owner: str, conversation_id: str) -> Any:
        row = conn.execute(select(conversations).where(
            conversations.c.id == conversation_id, conversations.c.owner == owner)).first()
        if row is None:
            raise NotFound(f"conversation {conversation_id} does not exist", conversation_id=conversation_id)
        return row

    def get(self, owner: str, conversation_id: str, with_messages: bool = True) -> Conversation:
        with self.engine.connect() as conn:
            row = self._row(conn, owner, conversation_id)
        return _conversation(row, self.messages(conversation_id) if with_messages else None)

    def update(self, owner: str, conversation_id: str, title: str | None = None,
               settings: dict[str, Any] | None = None, mode: str | None = None) -> Conversation:
        """Rename, change the mode, or change some settings (fields given replace, None removes)."""
        with self.engine.begin() as conn:
            row = self._row(conn, owner, conversation_id)
            values: dict[str, Any] = {"updated_at": now()}
            if title is not None:
                values["title"] = self._title(title)
            if mode is not None:
                values["mode"] = check_mode(mode)
            if settings is not None:
                merged = {**(row.settings or {}), **settings}
                values["settings"] = ConversationSettings(**merged).model_dump(exclude_none=True)
            conn.execute(update(conversations).where(conversations.c.id == conversation_id).values(**values))
        return self.get(owner, conversation_id, with_messages=False)

    def delete(self, owner: str, conversation_id: str) -> None:
        with self.engine.begin() as conn:
            self._row(conn, owner, conversation_id)
            ids = select(messages.c.id).where(messages.c.conversation_id == conversation_id)
            conn.execute(delete(feedback).where(feedback.c.message_id.in_(ids)))  # no FK cascade without pragmas
            conn.execute(delete(messages).where(messages.c.conversation_id == conversation_id))
            conn.execute(delete(conversations).where(conversations.c.id == conversation_id))

    # -- messages ------------------------------------------------------------------
    def messages(self, conversation_id: str) -> builtins.list[Message]:
        q = (select(messages, feedback.c.message_id.label("fb_id"), feedback.c.rating, feedback.c.reason,
                    feedback.c.created_at.label("fb_at"))
             .join(feedback, feedback.c.message_id == messages.c.id, isouter=True)
             .where(messages.c.conversation_id == conversation_id).order_by(messages.c.seq))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        out = []
        for r in rows:
            fb = None
            if r.fb_id is not None:
                fb = Feedback(message_id=r.fb_id, rating=r.rating, reason=r.reason, created_at=as_utc(r.fb_at))
            out.append(_message(r, fb))
        return out

    def history(self, conversation_id: str) -> builtins.list[dict[str, str]]:
        """The earlier turns a new question is asked after: complete ones, as role/content pairs."""
        out: builtins.list[dict[str, str]] = []
        for m in self.messages(conversation_id):
            if m.role == "assistant" and (m.status != "complete" or not m.content):
                if out and out[-1]["role"] == "user":
                    out.pop()  # a question without an answer adds nothing
                continue
            out.append({"role": m.role, "content": m.content})
        return out

    def add_message(self, owner: str, conversation_id: str, role: str, content: str, *,
                    mode: str | None = None, model: str | None = None, status: str = "complete",
                    citations: Sequence[Citation] = (), latency_ms: int | None = None,
                    usage: dict[str, int] | None = None, error: str | None = None,
                    meta: dict[str, Any] | None = None, trace: Sequence[ToolStep] | None = None) -> Message:
        """Append a message (next ``seq``); the first question names an untitled conversation."""
        for attempt in range(5):
            try:
                return self._append(owner, conversation_id, role, content, mode, model, status, citations,
                                    latency_ms, usage, error, meta, trace)
            except IntegrityError:  # another message took the same seq at the same moment
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _append(self, owner: str, conversation_id: str, role: str, content: str, mode: str | None,
                model: str | None, status: str, citations: Sequence[Citation], latency_ms: int | None,
                usage: dict[str, int] | None, error: str | None, meta: dict[str, Any] | None,
                trace: Sequence[ToolStep] | None = None) -> Message:
        ts, mid = now(), new_id()
        with self.engine.begin() as conn:
            row = self._row(conn, owner, conversation_id)
            seq = conn.execute(select(func.coalesce(func.max(messages.c.seq), 0)).where(
                messages.c.conversation_id == conversation_id)).scalar_one() + 1
            conn.execute(insert(messages).values(
                id=mid, conversation_id=conversation_id, seq=seq, role=role, content=content, mode=mode,
                model=model, status=status, citations=[c.model_dump(mode="json") for c in citations],
                latency_ms=latency_ms, usage=usage, error=error, meta=meta or {}, created_at=ts,
                trace=[step.model_dump(mode="json") for step in trace] if trace else None))
            values: dict[str, Any] = {"updated_at": ts}
            if role == "user" and not row.title:
                values["title"] = title_from(content, self.title_chars)
            conn.execute(update(conversations).where(conversations.c.id == conversation_id).values(**values))
            stored = conn.execute(select(messages).where(messages.c.id == mid)).one()
        return _message(stored)

    # -- feedback ------------------------------------------------------------------
    def set_feedback(self, owner: str, message_id: str, rating: str, reason: str | None = None) -> Feedback:
        if rating not in ("up", "down"):
            raise InvalidInput("rating is 'up' or 'down'", rating=rating)
        with self.engine.begin() as conn:
            msg = conn.execute(select(messages.c.role, messages.c.conversation_id).where(
                messages.c.id == message_id)).first()
            if msg is None:
                raise NotFound(f"message {message_id} does not exist", message_id=message_id)
            try:
                self._row(conn, owner, msg.conversation_id)
            except NotFound:
                raise NotFound(f"message {message_id} does not exist", message_id=message_id) from None
            if msg.role != "assistant":
                raise InvalidInput("feedback rates an answer: give the id of an assistant message",
                                   message_id=message_id)
            conn.execute(delete(feedback).where(feedback.c.message_id == message_id))
            conn.execute(insert(feedback).values(message_id=message_id, rating=rating,
                                                 reason=(reason or "").strip() or None, created_at=now()))
            row = conn.execute(select(feedback).where(feedback.c.message_id == message_id)).one()
        return _feedback(row)
