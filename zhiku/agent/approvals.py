"""Calls of tools that act on the world, waiting for their user's decision (human in the loop).

The agent loop opens an approval for such a call and streams an ``ApprovalRequest``; the user's
decision comes back through ``POST /api/chat/approvals/{id}`` (``AnswerPipeline.approvals.decide``).
No decision within ``agent.approval_timeout_s``, or a stopped answer: the call is not made.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from zhiku.errors import NotFound

WAIT_SLICE_S = 0.05  # how often a waiting loop looks at the stop switch


class Approvals:
    """Calls of tools that act on the world, waiting for their user's decision (kept in memory: the
    decision must reach the server process running the answer)."""

    def __init__(self) -> None:
        self._pending: dict[str, tuple[str, threading.Event, list[bool]]] = {}
        self._lock = threading.Lock()

    def open(self, owner: str) -> str:
        approval_id = uuid.uuid4().hex
        with self._lock:
            self._pending[approval_id] = (owner, threading.Event(), [])
        return approval_id

    def wait(self, approval_id: str, timeout_s: float, cancelled: Callable[[], bool]) -> bool | None:
        """True: approved, False: denied, None: no decision in time (or the answer was stopped)."""
        owner, decided, decision = self._pending[approval_id]
        deadline = time.monotonic() + timeout_s
        try:
            while not decided.wait(max(0.0, min(WAIT_SLICE_S, deadline - time.monotonic()))):
                if cancelled() or time.monotonic() >= deadline:
                    return None
            return decision[0]
        finally:
            with self._lock:
                self._pending.pop(approval_id, None)

    def decide(self, approval_id: str, owner: str, approve: bool) -> None:
        """Record ``owner``'s decision; an unknown id, one decided or expired, or another user's is NotFound."""
        with self._lock:
            pending = self._pending.get(approval_id)
            if pending is None or pending[0] != owner or pending[1].is_set():
                raise NotFound(f"no tool call waits for approval {approval_id}", approval_id=approval_id)
            pending[2].append(approve)
            pending[1].set()
