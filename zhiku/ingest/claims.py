"""Claims on ingestion jobs: how several processes share the ``jobs`` table safely.

A process with ingestion on (``zhiku start``, ``zhiku worker``) claims a queued job by writing its
worker id and a lease into the row; while it works it renews the lease (a heartbeat). A running job
whose lease ran out — its worker was killed, its machine lost — is claimed by another process,
which finishes it. Every claim is a compare-and-set on the row as it was read (its status and its
``claims`` count, which each claim raises), so of two processes racing for one job exactly one
wins. On PostgreSQL the candidates are read ``FOR UPDATE SKIP LOCKED``: racing claimers skip each
other's rows instead of queueing on them. SQLite runs one writer at a time, and the
compare-and-set alone decides there.

A worker id is ``host:pid:random`` (``jobs.worker_name`` may replace the host name). A lease held
by a process of this very host (named by its host name) whose pid is gone — the server killed and
started again — is taken over at once instead of after the lease.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update

from zhiku.store.catalog import as_utc
from zhiku.store.db import jobs
from zhiku.text.ids import now

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

CANDIDATES = 16  # rows looked at per claim attempt


def new_worker_id(name: str = "") -> str:
    """``name`` (default: the host name) ``:pid:random``."""
    name = name.replace(":", "-").strip() or socket.gethostname()
    return f"{name}:{os.getpid()}:{secrets.token_hex(3)}"


def _gone_from_this_host(worker: str | None) -> bool:
    """Whether ``worker`` was a process of this host that no longer runs."""
    if not worker:
        return True
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return False


@dataclass(frozen=True)
class Claimed:
    """A job this process now runs. ``taken_over``: another process had it running and stopped."""

    job_id: str
    taken_over: bool
    previous_worker: str | None


@dataclass(frozen=True)
class Exhausted:
    """A job whose workers stopped ``claims`` times while running it: failed instead of claimed."""

    job_id: str
    claims: int


class Claims:
    def __init__(self, engine: "Engine", worker: str, lease_s: float, max_claims: int) -> None:
        self.engine, self.worker, self.lease_s, self.max_claims = engine, worker, lease_s, max_claims

    def _lease(self, ts: datetime) -> datetime:
        return ts + timedelta(seconds=self.lease_s)

    def claim(self) -> Claimed | Exhausted | None:
        """Claim the oldest job that is queued or whose worker is gone; None when there is none."""
        ts = now()
        q = (select(jobs.c.id, jobs.c.status, jobs.c.worker, jobs.c.lease_until, jobs.c.claims)
             .where(or_(jobs.c.status == "queued",
                        and_(jobs.c.status == "running",
                             or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < ts,
                                 jobs.c.worker.like(socket.gethostname() + ":%")))))
             .order_by(jobs.c.created_at).limit(CANDIDATES))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            for row in conn.execute(q).all():
                running = row.status == "running"
                if running and row.lease_until is not None and as_utc(row.lease_until) >= ts \
                        and not _gone_from_this_host(row.worker):
                    continue  # a live process of this host holds it
                same = and_(jobs.c.id == row.id, jobs.c.status == row.status, jobs.c.claims == row.claims)
                if running and row.claims >= self.max_claims:
                    n = conn.execute(update(jobs).where(same).values(
                        status="failed", worker=None, lease_until=None, finished_at=ts, updated_at=ts,
                        error=f"its worker stopped {row.claims} times while ingesting it (the last: {row.worker}); "
                              "retry it to try the remaining files again")).rowcount
                    if n == 1:
                        return Exhausted(row.id, row.claims)
                    continue
                n = conn.execute(update(jobs).where(same).values(
                    status="running", worker=self.worker, lease_until=self._lease(ts), heartbeat_at=ts,
                    claims=jobs.c.claims + 1, updated_at=ts)).rowcount
                if n == 1:
                    return Claimed(row.id, running, row.worker if running else None)
        return None

    def renew(self, job_id: str) -> tuple[bool, bool]:
        """Extend this process's lease on a job: (still ours, cancel requested)."""
        ts = now()
        with self.engine.begin() as conn:
            n = conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.worker == self.worker,
                                                jobs.c.status == "running")
                             .values(lease_until=self._lease(ts), heartbeat_at=ts)).rowcount
            cancel = conn.execute(select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar()
        return n == 1, bool(cancel)

    def write(self, job_id: str, values: dict[str, Any]) -> bool:
        """Save the job's state while this process holds it; False when it no longer does."""
        with self.engine.begin() as conn:
            return conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.worker == self.worker)
                                .values(**values)).rowcount == 1

    def release(self, job_id: str, values: dict[str, Any]) -> bool:
        """Give the job back (this process stops): queued again, for any process to claim."""
        return self.write(job_id, {**values, "status": "queued", "worker": None, "lease_until": None,
                                   "claims": jobs.c.claims - 1})

    def request_cancel(self, job_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(cancel_requested=True, updated_at=now()))

    def cancel_queued(self, job_id: str, values: dict[str, Any]) -> bool:
        """Cancel a job nobody has claimed yet; False when a process claimed it meanwhile."""
        with self.engine.begin() as conn:
            return conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "queued",
                                                   jobs.c.worker.is_(None))
                                .values(**values)).rowcount == 1
