"""The answers of the Chatchat-compatible KB chat routes, kept by their ``message_id`` (table
``chatchat_answers``, migration 0005) so that Chatchat's ``/chat/feedback`` can rate them, as
Chatchat does with its message rows, without making each API chat a conversation of the caller.

A row holds the question, the answer and the KB: written with the question when the answer starts
(so that feedback can come as soon as the client has the id), the answer filled in when it is
complete (off the event loop); a stream cut short leaves the answer empty. Feedback is its owner's only (the user who asked; anyone on an open
server)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from zhiku.errors import NotFound
from zhiku.store.db import chatchat_answers
from zhiku.text.ids import now


def record(engine: Engine, message_id: str, owner: str | None, kb: str, question: str, answer: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(chatchat_answers).values(id=message_id, owner=owner, kb=kb, question=question,
                                                     answer=answer, created_at=now()))


def finish(engine: Engine, message_id: str, answer: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(chatchat_answers).where(chatchat_answers.c.id == message_id).values(answer=answer))


def finish_later(engine: Engine, message_id: str, answer: str) -> None:
    """:func:`finish` on a thread of its own: called from a stream's encoder, on the event loop."""
    threading.Thread(target=finish, args=(engine, message_id, answer), name="chatchat-answer", daemon=True).start()


def rate(engine: Engine, message_id: str, owner: str | None, score: int, reason: str) -> dict[str, Any] | None:
    """Rate the answer ``message_id`` of ``owner`` (Chatchat's 0-100 score; 50 and above is up);
    None when there is no such answer of theirs (it may be a message of a zhiku conversation)."""
    rating = "up" if score >= 50 else "down"
    with engine.begin() as conn:
        row = conn.execute(select(chatchat_answers.c.owner).where(chatchat_answers.c.id == message_id)).first()
        if row is None or (row.owner is not None and row.owner != owner):
            return None
        conn.execute(update(chatchat_answers).where(chatchat_answers.c.id == message_id).values(
            rating=rating, score=score, reason=reason.strip() or None, rated_at=now()))
        done = conn.execute(select(chatchat_answers).where(chatchat_answers.c.id == message_id)).one()
    return {"message_id": done.id, "kb": done.kb, "rating": done.rating, "score": done.score,
            "reason": done.reason, "created_at": done.rated_at.isoformat() if done.rated_at else None}


def get(engine: Engine, message_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(chatchat_answers).where(chatchat_answers.c.id == message_id)).first()
    if row is None:
        raise NotFound(f"answer {message_id} does not exist", message_id=message_id)
    return dict(row._mapping)
