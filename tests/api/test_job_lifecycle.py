"""Cancelling a running job, retrying what it left, and jobs that outlive the process."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.api.conftest import OVERRIDES, many_docs
from zhiku import Zhiku, load_settings
from zhiku.client import ZhikuClient
from zhiku.errors import Conflict, Unavailable
from zhiku.schema.jobs import Job


def _hold_when(zk: Zhiku, job: Job, ready: threading.Event, gate: threading.Event, files: int) -> None:
    """Hold the job's worker (through the public watch hook) once ``files`` files are in and the
    next file has started: its pending record exists and its chunks are being embedded."""

    def hold() -> None:
        if not threading.current_thread().name.startswith("zhiku-ingest"):
            return  # watchers are also called from the request that cancels
        j = zk.job(job.id)
        if j.files_done >= files and j.chunks_embedded < j.chunks_total and not gate.is_set():
            ready.set()
            gate.wait(30)

    zk.watch_job(job.id, hold)


def test_cancel_a_running_job_leaves_the_kb_consistent(asgi: ZhikuClient, zk: Zhiku) -> None:
    asgi.create_kb("kb")
    job = asgi.upload("kb", many_docs(60))
    ready, gate = threading.Event(), threading.Event()
    _hold_when(zk, job, ready, gate, files=3)
    assert ready.wait(60), "the job never reached its fourth file"
    running = asgi.get_job(job.id)
    assert running.status == "running" and running.current_file == "doc003.md"
    assert zk.list_files("kb")[-1].status == "pending"  # the file being embedded
    with pytest.raises(Conflict):
        asgi.delete_kb("kb")  # busy
    assert asgi.cancel_job(job.id).cancel_requested
    gate.set()
    final = asgi.wait_for_job(job.id, timeout=60)
    assert final.status == "cancelled"
    added = [f.name for f in final.files if f.outcome == "added"]
    assert added == ["doc000.md", "doc001.md", "doc002.md"]
    assert all(f.outcome == "cancelled" for f in final.files[3:])
    # consistent: only whole files, no pending record of the interrupted one, indexes agree
    files = asgi.list_files("kb")
    assert [f.name for f in files] == added and all(f.status == "indexed" for f in files)
    assert zk.check("kb") == []
    assert asgi.get_kb("kb").files == 3
    assert asgi.search("kb", "项目1的说明", mode="lexical")[0].file == "doc001.md"
    with pytest.raises(Conflict):
        asgi.cancel_job(job.id)  # already finished

    retry = asgi.wait_for_job(asgi.retry_job(job.id).id, timeout=120)
    assert retry.status == "done" and retry.files_total == 57 and retry.files_failed == 0
    assert len(asgi.list_files("kb")) == 60 and zk.check("kb") == []
    assert list((zk.settings.home / "uploads").iterdir()) == [], "staged copies outlived their jobs"


def test_cancel_a_queued_job(asgi: ZhikuClient, zk: Zhiku) -> None:
    asgi.create_kb("kb")
    first = asgi.upload("kb", many_docs(20))
    ready, gate = threading.Event(), threading.Event()
    _hold_when(zk, first, ready, gate, files=1)
    assert ready.wait(60)
    queued = asgi.upload("kb", [("late.md", "# 迟到\n\n排队中的文件。\n".encode())])
    assert asgi.get_job(queued.id).status == "queued"  # one worker, busy
    asgi.cancel_job(queued.id)
    gate.set()
    assert asgi.wait_for_job(queued.id, timeout=60).status == "cancelled"
    assert asgi.wait_for_job(first.id, timeout=60).status == "done"
    assert "late.md" not in {f.name for f in asgi.list_files("kb")}
    assert [j.id for j in asgi.list_jobs(status="cancelled")] == [queued.id]


def test_a_stopped_process_gives_its_job_back_and_another_finishes_it(home: Path) -> None:
    """Two processes on one home: the job runs in one only; when that one stops cleanly the job is
    queued again and the other finishes it, the files already committed not redone."""
    from tests.api.conftest import SyncASGITransport
    from zhiku.api import create_app

    first = Zhiku(load_settings(home=home, overrides=OVERRIDES, environ={}))
    transport = SyncASGITransport(create_app(first))
    client = ZhikuClient("http://zhiku.test", transport=transport)
    second = Zhiku(load_settings(home=home, overrides=OVERRIDES, environ={}))
    closer = threading.Thread(target=first.close)
    try:
        client.create_kb("kb")
        job = client.upload("kb", many_docs(12))
        ready, gate = threading.Event(), threading.Event()
        _hold_when(first, job, ready, gate, files=2)
        assert ready.wait(60)
        second.start_jobs()
        seen = second.job(job.id)  # held by the first process, which is alive: not claimed again
        assert seen.status == "running" and seen.worker == first.jobs.worker != second.jobs.worker
        closer.start()
        while not first.jobs.closing:
            time.sleep(0.01)
        gate.set()
        closer.join(60)
        done = _wait(second, job.id)
        assert done.status == "done" and done.files_failed == 0 and done.files_done == 12
        assert all(f.outcome == "added" for f in done.files)
        records = second.list_files("kb")
        assert sorted(f.name for f in records) == [f"doc{i:03d}.md" for i in range(12)]
        assert all(f.status == "indexed" for f in records)
        assert second.check("kb") == []
    finally:
        gate.set()
        client.close()
        transport.close()
        if not closer.is_alive():
            first.close()
        second.close()


def test_a_job_running_in_another_process_is_cancelled_from_this_one(home: Path) -> None:
    first = Zhiku(load_settings(home=home, overrides=OVERRIDES, environ={}))
    second = Zhiku(load_settings(home=home, overrides=OVERRIDES, environ={}))
    try:
        first.start_jobs()
        second.start_jobs(ingest=False)  # a server that only queues: the first process does the work
        first.create_kb("kb")
        staging = second.stage_upload()
        for name, data in many_docs(40):
            f = staging.add(name)
            f.write(data)
            f.close()
        job = second.submit_upload("kb", staging)
        ready, gate = threading.Event(), threading.Event()
        _hold_when(first, job, ready, gate, files=2)
        assert ready.wait(60)
        told = threading.Event()  # this process's watchers of a job another runs are told of its changes
        second.watch_job(job.id, told.set)
        noticed = threading.Event()  # the process running the job has taken the request in
        first.watch_job(job.id, lambda: noticed.set() if first.job(job.id).cancel_requested else None)
        assert second.cancel_job(job.id).cancel_requested
        assert noticed.wait(30)  # released before that, the held worker could finish all 40 files first
        gate.set()
        assert told.wait(30)
        done = _wait(second, job.id)
        added = [f.name for f in done.files if f.outcome == "added"]
        assert done.status == "cancelled" and 2 <= len(added) < 40
        assert sorted(f.name for f in second.list_files("kb")) == added
        assert second.check("kb") == []
    finally:
        gate.set()
        first.close()
        second.close()


def _wait(zk: Zhiku, job_id: str, timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while (job := zk.job(job_id)).status in ("queued", "running"):
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.05)
    return job


def test_jobs_need_the_server(zk: Zhiku) -> None:
    with pytest.raises(Unavailable, match="zhiku start"):
        zk.job("0" * 32)


def test_a_worker_that_cannot_see_the_staged_upload_fails_its_files_saying_why(tmp_path: Path) -> None:
    """Same database, another home: the uploads folder is not shared, so the files cannot be read."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    server = Zhiku(load_settings(home=tmp_path / "server", overrides={**OVERRIDES, "database_url": url}, environ={}))
    worker = Zhiku(load_settings(home=tmp_path / "worker", overrides={**OVERRIDES, "database_url": url}, environ={}))
    try:
        server.start_jobs(ingest=False)
        server.create_kb("kb")
        staging = server.stage_upload()
        staged = staging.add("a.md")
        staged.write(b"# A\n\nsome text\n")
        staged.close()
        job = server.submit_upload("kb", staging)
        worker.start_jobs()
        done = _wait(server, job.id)
        assert done.status == "done" and done.files[0].outcome == "failed"
        assert "must share the home folder's uploads/" in done.files[0].detail
        assert done.files[0].staged and (tmp_path / "server" / "uploads" / job.id / "0").is_file()  # for a retry
    finally:
        worker.close()
        server.close()
