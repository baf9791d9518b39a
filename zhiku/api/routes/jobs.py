"""Ingestion jobs: list, poll, follow (server-sent events), cancel, retry failed files, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.responses import StreamingResponse

from zhiku.api import sse
from zhiku.api.deps import JobRead, JobWrite, ReadableKBIds, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.security import AuthorizedKB, kb_in_query
from zhiku.schema.jobs import Job, JobStatus

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
KBFilter = Annotated[AuthorizedKB | None, Depends(kb_in_query(
    "read", Annotated[str | None, Query(description="only this knowledge base's jobs")], "kb", optional=True))]


@router.get("", responses=responses(404, 422, 503))
def list_jobs(
    kb: KBFilter, readable: ReadableKBIds, zhiku: ZhikuDep,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[Job]:
    """Newest first (the jobs of the knowledge bases the caller may read)."""
    if readable is None or kb is not None:
        return zhiku.list_jobs(kb.name if kb is not None else None, status_, limit)
    return [j for j in zhiku.list_jobs(None, status_, 500) if j.kb_id in readable][:limit]


@router.get("/{job_id}", responses=responses(404, 422, 503))
def get_job(job: JobRead) -> Job:
    """The job's status and progress: files done/total, chunks embedded/total, each file's outcome."""
    return job


@router.get("/{job_id}/events", response_class=StreamingResponse,
            responses={200: sse.SSE_RESPONSE, **responses(404, 422, 503)})
def job_events(job: JobRead, zhiku: ZhikuDep) -> StreamingResponse:
    """Progress as server-sent events: ``progress`` (the job) on every change, then one ``end``."""
    stream = sse.job_events(zhiku, job.id, zhiku.settings.server.sse_heartbeat_s)
    return StreamingResponse(stream, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


@router.post("/{job_id}/cancel", responses=responses(404, 409, 422, 503))
def cancel_job(job: JobWrite, zhiku: ZhikuDep) -> Job:
    """Ask a queued or running job to stop (after the current batch); 409 when it already finished."""
    return zhiku.cancel_job(job.id)


@router.post("/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED, responses=responses(404, 409, 422, 503))
def retry_job(job: JobWrite, zhiku: ZhikuDep) -> Job:
    """A new job for the files that failed, were cancelled or were interrupted."""
    return zhiku.retry_job(job.id)


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 409, 422, 503))
def delete_job(job: JobWrite, zhiku: ZhikuDep) -> Response:
    """Forget a finished job and the staged copies it kept for a retry."""
    zhiku.delete_job(job.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
