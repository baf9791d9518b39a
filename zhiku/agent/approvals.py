"""Calls of tools that act on the world, waiting for their user's decision (human in the loop).

The agent loop opens an approval for such a call and streams an ``ApprovalRequest``; the user's
decision comes back through ``POST /api/chat/approvals/{id}`` (``AnswerPipeline.approvals.decide``).
No decision within ``agent.approval_timeout_s``, or a stopped answer: the call is not made.

Approvals are rows of the database (``tool_approvals``): the decision is a request of its own, and it
may reach another server process than the one running the answer (``zhiku start --processes N``,
several servers behind a load balancer). A decision made in the process that waits wakes it at once;
one made elsewhere is read by the waiting loop within ``POLL_S``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from zhiku.errors import NotFound
from zhiku.store.db import tool_approvals
from zhiku.text.ids import now

WAIT_SLICE_S = 0.05  # how often a waiting loop looks at the stop switch
POLL_S = 0.25  # how often it reads the database for a decision made in another process


class Approvals:
    """Calls of tools waiting for their user's decision, in the database (any process may decide)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._waiting: dict[str, threading.Event] = {}  # this process's waits, woken by a decision made here
        self._lock = threading.Lock()

    def open(self, owner: str, timeout_s: float) -> str:
        approval_id = uuid.uuid4().hex
        opened = now()
        with self.engine.begin() as conn:
            conn.execute(insert(tool_approvals).values(id=approval_id, owner=owner, opened_at=opened,
                                                       expires_at=opened + timedelta(seconds=timeout_s)))
        with self._lock:
            self._waiting[approval_id] = threading.Event()
        return approval_id

    def wait(self, approval_id: str, timeout_s: float, cancelled: Callable[[], bool]) -> bool | None:
        """True: approved, False: denied, None: no decision in time (or the answer was stopped)."""
        with self._lock:
            woken = self._waiting.setdefault(approval_id, threading.Event())
        deadline = time.monotonic() + timeout_s
        polled = 0.0
        try:
            while True:
                if woken.is_set() or time.monotonic() - polled >= POLL_S:
                    polled = time.monotonic()
                    decision = self._decision(approval_id)
                    if decision is not None:
                        return decision
                if cancelled() or time.monotonic() >= deadline:
                    return None
                woken.wait(max(0.0, min(WAIT_SLICE_S, deadline - time.monotonic())))
        finally:
            with self._lock:
                self._waiting.pop(approval_id, None)
            with self.engine.begin() as conn:  # decided or not, nobody waits for it any more
                conn.execute(delete(tool_approvals).where(tool_approvals.c.id == approval_id))

    def _decision(self, approval_id: str) -> bool | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(tool_approvals.c.approved).where(tool_approvals.c.id == approval_id)).first()
        return None if value is None or value[0] is None else bool(value[0])

    def decide(self, approval_id: str, owner: str, approve: bool) -> None:
        """Record ``owner``'s decision; an unknown id, one decided or expired, or another user's is NotFound."""
        with self.engine.begin() as conn:
            done = conn.execute(update(tool_approvals).where(
                tool_approvals.c.id == approval_id, tool_approvals.c.owner == owner,
                tool_approvals.c.approved.is_(None), tool_approvals.c.expires_at > now(),
            ).values(approved=approve, decided_at=now())).rowcount
        if done != 1:
            raise NotFound(f"no tool call waits for approval {approval_id}", approval_id=approval_id)
        with self._lock:
            woken = self._waiting.get(approval_id)
        if woken is not None:
            woken.set()
