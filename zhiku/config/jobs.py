"""The ``jobs`` settings section: who ingests uploads, and the claims that let processes share the work."""

from __future__ import annotations

from pydantic import Field, model_validator

from zhiku.config.base import _Section


class JobSettings(_Section):
    ingest_in_server: bool = Field(
        True, description="`zhiku start` ingests uploads itself (one machine); false: it only queues them and "
        "`zhiku worker` processes (on the machines next to the embedders) do the work")
    lease_s: float = Field(
        60.0, ge=1, le=3600, description="seconds a process's claim on a job holds without a heartbeat; a job whose "
        "worker died is taken over by another process after this")
    heartbeat_s: float = Field(10.0, gt=0, le=600, description="seconds between renewals of a running job's lease")
    poll_s: float = Field(1.0, gt=0, le=60, description="seconds between looks for queued jobs while idle")
    worker_name: str = Field(
        "", max_length=100, description="how this process names itself in jobs (NAME:pid:tag) and logs; empty: "
        "the host name (then a job of a process of this host that is gone is taken over at once, not after the lease)")
    max_claims: int = Field(
        3, ge=1, le=100, description="a job whose worker stopped this many times while running it is failed "
        "instead of being taken over again (its files stay staged for a retry)")

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> "JobSettings":
        if self.heartbeat_s * 2 > self.lease_s:
            raise ValueError(f"jobs.heartbeat_s ({self.heartbeat_s:g}) must be at most half of jobs.lease_s "
                             f"({self.lease_s:g}): a lease must survive a late heartbeat")
        return self
