"""Tool-call approvals live in the database (zhiku/agent/approvals.py): the user's decision is a request of
its own, and with `zhiku start --processes N` or several servers behind a load balancer it may reach
another process than the one running the answer. Here the answer waits in this process and the decision
is made by another process on the same home; the same rules hold as within one process (another user's,
a decided or an expired approval is not found)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from zhiku import Zhiku, load_settings
from zhiku.errors import NotFound
from zhiku.store.db import tool_approvals

DECIDE = """
import sys
from zhiku import Zhiku, load_settings
from zhiku.errors import NotFound
app = Zhiku(load_settings(home=sys.argv[1], overrides={"embedding": {"default": "static"}}))
try:
    app.answers.approvals.decide(sys.argv[2], sys.argv[3], sys.argv[4] == "yes")
    print("decided")
except NotFound as exc:
    print("not found:", exc)
finally:
    app.close()
"""


def _decide_elsewhere(home: Path, approval_id: str, owner: str, approve: bool) -> str:
    done = subprocess.run([sys.executable, "-c", DECIDE, str(home), approval_id, owner, "yes" if approve else "no"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def app(home: Path) -> Zhiku:
    a = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}}))
    yield a
    a.close()


def test_a_decision_made_in_another_process_reaches_the_waiting_answer(app: Zhiku, home: Path) -> None:
    approvals = app.answers.approvals
    for approve in (True, False):
        approval_id = approvals.open("alice", 60)
        got: list[bool | None] = []
        waiting = threading.Thread(target=lambda: got.append(approvals.wait(approval_id, 60, lambda: False)))
        waiting.start()
        assert _decide_elsewhere(home, approval_id, "bob", approve).startswith("not found")  # another user's
        assert _decide_elsewhere(home, approval_id, "alice", approve) == "decided"
        waiting.join(30)
        assert got == [approve]
        assert _decide_elsewhere(home, approval_id, "alice", approve).startswith("not found")  # nobody waits now
    with app.engine.connect() as conn:
        assert conn.execute(tool_approvals.select()).all() == []  # each went with its wait


def test_no_decision_in_time_and_an_expired_approval(app: Zhiku, home: Path) -> None:
    approvals = app.answers.approvals
    approval_id = approvals.open("alice", 0.3)
    t0 = time.monotonic()
    assert approvals.wait(approval_id, 0.3, lambda: False) is None and time.monotonic() - t0 < 5
    with pytest.raises(NotFound):
        approvals.decide(approval_id, "alice", True)
    expired = approvals.open("alice", 0.0)  # its time is over before anyone decides: nothing is approved
    assert _decide_elsewhere(home, expired, "alice", True).startswith("not found")
    stopped = approvals.open("alice", 60)
    assert approvals.wait(stopped, 60, lambda: True) is None  # the answer was stopped
