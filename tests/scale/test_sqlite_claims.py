"""Claims on one SQLite home: two processes never both run a job."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from tests.scale.conftest import Cluster, many_small_files, write_config
from zhiku import Zhiku, load_settings
from zhiku.store.db import jobs, kbs
from zhiku.store.engines import open_engine
from zhiku.text.ids import new_id, now

CLAIMER = """
import json, sys
from zhiku.ingest.claims import Claimed, Claims, new_worker_id
from zhiku.store.engines import make_engine
claims = Claims(make_engine(sys.argv[1]), new_worker_id(sys.argv[2]), 600, 3)
got = []
while (c := claims.claim()) is not None:
    assert isinstance(c, Claimed)
    got.append(c.job_id)
print(json.dumps(got))
"""


def test_two_processes_racing_for_queued_jobs_on_sqlite_claim_each_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'zhiku.db'}"
    engine = open_engine(url)
    ts = now()
    kb = new_id()
    ids = [new_id() for _ in range(300)]
    with engine.begin() as conn:
        conn.execute(insert(kbs).values(id=kb, name="kb", description="", embedder="static", dimensions=8,
                                        chunk_size=500, chunk_overlap=50, revision=0, created_at=ts, updated_at=ts))
        conn.execute(insert(jobs), [{"id": i, "kb_id": kb, "kind": "upload", "status": "queued", "force": False,
                                     "files": [], "created_at": ts, "updated_at": ts} for i in ids])
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, url, f"racer-{n}"], stdout=subprocess.PIPE, text=True)
             for n in range(2)]
    results = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    first, second = (set(r) for r in results)
    assert not first & second and first | second == set(ids)
    assert len(results[0]) + len(results[1]) == len(ids)
    with engine.connect() as conn:
        rows = conn.execute(select(jobs.c.id, jobs.c.worker, jobs.c.claims)).all()
    assert all(r.claims == 1 and r.worker.split(":")[0] == ("racer-0" if r.id in first else "racer-1") for r in rows)
    engine.dispose()


@pytest.mark.slow
def test_two_workers_on_one_sqlite_home_run_each_job_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home, None)
    cluster = Cluster(home, tmp_path / "logs")
    queuer = Zhiku(load_settings(home=home, environ={}))
    try:
        queuer.start_jobs(ingest=False)  # a server that only queues
        cluster.worker("worker-1")
        cluster.worker("worker-2")
        submitted = []
        for k in range(8):  # a KB per job: the embedded index files of one KB take one writer at a time
            queuer.create_kb(f"kb{k}")
            staging = queuer.stage_upload()
            for name, data in many_small_files(3, start=3 * k):
                staged = staging.add(name)
                staged.write(data)
                staged.close()
            submitted.append(queuer.submit_upload(f"kb{k}", staging))
        deadline = time.monotonic() + 180
        for job in submitted:
            while (done := queuer.job(job.id)).status in ("queued", "running"):
                assert time.monotonic() < deadline, cluster.logs_text()
                time.sleep(0.05)
            assert done.status == "done" and [f.outcome for f in done.files] == ["added"] * 3, cluster.logs_text()
        with queuer.engine.connect() as conn:
            rows = conn.execute(select(jobs.c.worker, jobs.c.claims)).all()
        assert all(r.claims == 1 for r in rows)
        assert {r.worker.split(":")[1] for r in rows} <= {str(p.pid) for p in cluster.procs}
        for k in range(8):
            assert len(queuer.list_files(f"kb{k}")) == 3 and queuer.check(f"kb{k}") == []
    finally:
        cluster.close()
        queuer.close()


@pytest.mark.slow
def test_a_worker_stopped_with_sigterm_gives_its_job_back_and_another_finishes_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home, None)
    cluster = Cluster(home, tmp_path / "logs")
    queuer = Zhiku(load_settings(home=home, environ={}))
    try:
        queuer.start_jobs(ingest=False)
        first = cluster.worker("worker-1")
        queuer.create_kb("kb")
        staging = queuer.stage_upload()
        for name, data in many_small_files(120):
            staged = staging.add(name)
            staged.write(data)
            staged.close()
        job = queuer.submit_upload("kb", staging)
        deadline = time.monotonic() + 120
        while queuer.job(job.id).files_done < 2:
            assert time.monotonic() < deadline, cluster.logs_text()
            time.sleep(0.02)
        assert first.stop() == 0
        said = first.text()
        assert f"job {job.id} (kb): given back" in said and said.rstrip().endswith("zhiku worker stopped"), said
        back = queuer.job(job.id)
        added = [f.name for f in back.files if f.outcome == "added"]
        assert back.status == "queued" and back.worker is None and 2 <= len(added) < 120
        cluster.worker("worker-2")
        while (done := queuer.job(job.id)).status in ("queued", "running"):
            assert time.monotonic() < deadline + 120, cluster.logs_text()
            time.sleep(0.05)
        assert done.status == "done" and [f.outcome for f in done.files] == ["added"] * 120
        assert len(queuer.list_files("kb")) == 120 and queuer.check("kb") == []
    finally:
        cluster.close()
        queuer.close()


def test_a_worker_that_cannot_reach_its_database_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    env["ZHIKU_DATABASE_URL"] = f"postgresql+psycopg://zhiku:secret@127.0.0.1:{port}/zhiku"
    done = subprocess.run([sys.executable, "-m", "zhiku", "--home", str(tmp_path / "home"), "worker"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith("error:") and f"127.0.0.1:{port}" in line, line
    assert "secret" not in line and "refused" in line.lower()
