"""Ingestion jobs: list, poll, follow (server-sent events), cancel, retry failed files, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from zhiku.api import sse
from zhiku.api.deps import JobId, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.security import Need, authorize_kb, readable_kb_ids
from zhiku.app import Zhiku
from zhiku.errors import NotFound
from zhiku.schema.jobs import Job, JobStatus

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


def _job(request: Request, zhiku: Zhiku, job_id: str, need: Need) -> Job:
    """The job, when the caller may ``need`` its knowledge base (else it does not exist for them)."""
    job = zhiku.job(job_id)
    try:
        authorize_kb(request, job.kb, need)
    except NotFound:
        raise NotFound(f"job {job_id} does not exist", job_id=job_id) from None
    return job


@router.get("", responses=responses(404, 422, 503))
def list_jobs(
    request: Request, zhiku: ZhikuDep,
    kb: Annotated[str | None, Query(description="only this knowledge base's jobs")] = None,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[Job]:
    """Newest first (the jobs of the knowledge bases the caller may read)."""
    if kb is not None:
        authorize_kb(request, kb, "read")
    readable = readable_kb_ids(request)
    if readable is None or kb is not None:
        return zhiku.list_jobs(kb, status_, limit)
    return [j for j in zhiku.list_jobs(None, status_, 500) if j.kb_id in readable][:limit]


@router.get("/{job_id}", responses=responses(404, 422, 503))
def get_job(job_id: JobId, request: Request, zhiku: ZhikuDep) -> Job:
    """The job's status and progress: files done/total, chunks embedded/total, each file's outcome."""
    return _job(request, zhiku, job_id, "read")


@router.get("/{job_id}/events", response_class=StreamingResponse,
            responses={200: sse.SSE_RESPONSE, **responses(404, 422, 503)})
def job_events(job_id: JobId, request: Request, zhiku: ZhikuDep) -> StreamingResponse:
    """Progress as server-sent events: ``progress`` (the job) on every change, then one ``end``."""
    _job(request, zhiku, job_id, "read")  # 404 before the stream starts
    stream = sse.job_events(zhiku, job_id, zhiku.settings.server.sse_heartbeat_s)
    return StreamingResponse(stream, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


@router.post("/{job_id}/cancel", responses=responses(404, 409, 422, 503))
def cancel_job(job_id: JobId, request: Request, zhiku: ZhikuDep) -> Job:
    """Ask a queued or running job to stop (after the current batch); 409 when it already finished."""
    _job(request, zhiku, job_id, "write")
    return zhiku.cancel_job(job_id)


@router.post("/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED, responses=responses(404, 409, 422, 503))
def retry_job(job_id: JobId, request: Request, zhiku: ZhikuDep) -> Job:
    """A new job for the files that failed, were cancelled or were interrupted."""
    _job(request, zhiku, job_id, "write")
    return zhiku.retry_job(job_id)


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=responses(404, 409, 422, 503))
def delete_job(job_id: JobId, request: Request, zhiku: ZhikuDep) -> Response:
    """Forget a finished job and the staged copies it kept for a retry."""
    _job(request, zhiku, job_id, "write")
    zhiku.delete_job(job_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
