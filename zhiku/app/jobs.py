"""``Zhiku``'s background-work face: ingestion jobs, which the server starts (``zhiku start``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from zhiku.app.kbs import KBFace

if TYPE_CHECKING:
    from zhiku.ingest.job_manager import JobEvent, JobManager
    from zhiku.ingest.jobs import UploadStaging
    from zhiku.schema.jobs import Job


class JobsFace(KBFace):
    @property
    def jobs(self) -> "JobManager":
        if self._jobs is None:
            from zhiku.errors import Unavailable

            raise Unavailable("background jobs are not started (they run inside `zhiku start`)")
        return self._jobs

    def start_jobs(self, workers: int | None = None, ingest: bool | None = None,
                   on_event: "Callable[[JobEvent, Job], None] | None" = None) -> "JobManager":
        """Start background jobs: this process claims queued ingestion jobs from the database (with
        ``workers`` threads) unless ``ingest`` is false (default: setting ``jobs.ingest_in_server``)."""
        from zhiku.ingest.job_manager import JobManager

        if self._jobs is None:
            s = self.settings
            self._jobs = JobManager(s.home / "uploads", self.engine, self.catalog, self.ingestor,
                                    workers or s.server.ingest_workers, s.ingest.max_file_mb << 20,
                                    s.server.max_upload_mb << 20, s.jobs,
                                    s.jobs.ingest_in_server if ingest is None else ingest, on_event,
                                    lambda: self.embedder(s.embedding.default).embed_passages(["warm up 预热"]))
        return self._jobs

    def stage_upload(self) -> "UploadStaging":
        return self.jobs.stage()

    def submit_upload(self, kb_name: str, staging: "UploadStaging", force: bool = False) -> "Job":
        try:
            kb = self.kb(kb_name)
        except Exception:
            staging.discard()
            raise
        return self.jobs.submit(kb, staging, force)

    def reingest(self, kb_name: str, file_id: str) -> "Job":
        record, path = self.file_content(kb_name, file_id)
        return self.jobs.submit_reingest(self.kb(kb_name), record, path)

    def job(self, job_id: str) -> "Job":
        return self.jobs.get(job_id)

    def list_jobs(self, kb_name: str | None = None, status: str | None = None, limit: int = 50) -> list["Job"]:
        return self.jobs.list(self.kb(kb_name).id if kb_name else None, status, limit)

    def cancel_job(self, job_id: str) -> "Job":
        return self.jobs.cancel(job_id)

    def retry_job(self, job_id: str) -> "Job":
        return self.jobs.retry(job_id)

    def delete_job(self, job_id: str) -> None:
        self.jobs.delete(job_id)

    def watch_job(self, job_id: str, callback: Callable[[], None]) -> Callable[[], None]:
        return self.jobs.watch(job_id, callback)
