"""Two `zhiku start` servers and two `zhiku worker`s on one PostgreSQL, sharing one home folder.

One cluster for the module (starting processes is the slow part), on a private PostgreSQL that the
last test stops and starts again.
"""

from __future__ import annotations

import time
from typing import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, select

from tests.scale.conftest import Cluster, many_small_files, write_config
from zhiku.client import ZhikuClient
from zhiku.errors import NotFound
from zhiku.schema.jobs import Job
from zhiku.store.db import jobs as jobs_table
from zhiku.testing.postgres import LocalPostgres

pytestmark = pytest.mark.slow
DB_TIMEOUT_S = 3.0


class Setup:
    def __init__(self, pg: LocalPostgres, url: str, cluster: Cluster, a: ZhikuClient, b: ZhikuClient) -> None:
        self.pg, self.url, self.cluster, self.a, self.b = pg, url, cluster, a, b


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("scale")
    pg = LocalPostgres(root / "pg").start()
    url = pg.new_database()
    home = root / "home"
    write_config(home, url, database_timeout_s=DB_TIMEOUT_S, index={"vector": "pgvector", "lexical": "pg_bm25"})
    cluster = Cluster(home, root / "logs")
    try:
        a, b = cluster.server("server-a"), cluster.server("server-b")
        # named apart from the host: a killed worker's job then waits for its lease, as on another machine
        cluster.worker("worker-1", {"ZHIKU_JOBS__WORKER_NAME": "worker-1"})
        cluster.worker("worker-2", {"ZHIKU_JOBS__WORKER_NAME": "worker-2"})
        yield Setup(pg, url, cluster, a, b)
    finally:
        cluster.close()
        pg.stop()


def _job_rows(url: str, ids: list[str]) -> dict[str, tuple[str, int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(jobs_table.c.id, jobs_table.c.worker, jobs_table.c.claims)
                                .where(jobs_table.c.id.in_(ids))).all()
    finally:
        engine.dispose()
    return {r.id: (r.worker, r.claims) for r in rows}


def test_200_files_uploaded_through_both_servers_are_each_ingested_once(setup: Setup) -> None:
    a, b = setup.a, setup.b
    a.create_kb("shared")
    uploads: list[tuple[Job, list[str]]] = []
    for k in range(20):  # 20 uploads of 10 files, every other one through each server
        files = many_small_files(10, start=10 * k)
        uploads.append(((a if k % 2 else b).upload("shared", files), [n for n, _ in files]))
    try:
        for job, names in uploads:
            done = a.wait_for_job(job.id, timeout=300)
            assert done.status == "done" and [f.outcome for f in done.files] == ["added"] * 10, done
            for name in names:  # searchable on the other server as soon as its job says done
                marker = name.removesuffix(".txt") + "word"
                hits = b.search("shared", marker, mode="lexical", top_k=3)
                assert hits and hits[0].file == name, (name, [h.file for h in hits])
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{setup.cluster.logs_text()}") from exc
    for server in (a, b):
        records = server.list_files("shared")
        assert sorted(f.name for f in records) == [f"f{i:04d}.txt" for i in range(200)]  # one record each
        assert all(f.status == "indexed" for f in records)
        assert server.list_kbs()[0].chunks == 200
    assert a.check_kb("shared").problems == []
    claims = _job_rows(setup.url, [job.id for job, _ in uploads])
    assert all(n == 1 for _, n in claims.values())  # no job was claimed twice
    assert len({w.rsplit(":", 2)[0] for w, _ in claims.values()}) >= 2  # the work was shared


def test_a_worker_killed_mid_job_has_its_job_taken_over_after_its_lease(setup: Setup) -> None:
    a, cluster = setup.a, setup.cluster
    a.create_kb("takeover")
    workers = {p.pid: p for p in cluster.procs if p.name.startswith("worker")}
    victim = job = None
    for attempt in range(4):  # until a worker (not a server: it claims its own uploads first) is mid-job
        batch = [a.upload("takeover", many_small_files(40, start=1000 * (4 * attempt + k + 1), tag="t"))
                 for k in range(4)]
        deadline = time.monotonic() + 120
        while victim is None and any(a.get_job(j.id).status in ("queued", "running") for j in batch):
            for j in batch:
                seen = a.get_job(j.id)
                holder = int(seen.worker.split(":")[1]) if seen.worker else None
                if holder in workers and 1 <= seen.files_done < seen.files_total - 5:
                    victim, job = workers[holder], seen
                    break
            assert time.monotonic() < deadline, cluster.logs_text()
            time.sleep(0.02)
        if victim is not None:
            break
    assert victim is not None and job is not None, "no worker was ever caught mid-job"
    victim.kill()
    cluster.procs.remove(victim)
    done = a.wait_for_job(job.id, timeout=300)
    assert done.status == "done" and done.files_failed == 0, f"{done}\n{cluster.logs_text()}"
    worker, claims = _job_rows(setup.url, [job.id])[job.id]
    assert claims == 2 and int(worker.split(":")[1]) != victim.pid  # taken over once, by another process
    names = [f.name for f in a.list_files("takeover") if f.name.startswith("t")]
    ours = [f.name for f in done.files]
    assert sorted(n for n in names if n in ours) == sorted(ours)  # every file once, none twice
    assert a.check_kb("takeover").problems == []
    cluster.worker("worker-3", {"ZHIKU_JOBS__WORKER_NAME": "worker-3"})  # back to two workers


def test_a_kb_created_renamed_or_deleted_on_one_server_is_seen_by_the_other(setup: Setup) -> None:
    a, b = setup.a, setup.b
    a.create_kb("notes", description="first")
    assert "notes" in [kb.name for kb in b.list_kbs()]
    assert b.search("notes", "anything", mode="lexical") == []
    job = b.upload("notes", many_small_files(3, tag="n"))
    assert b.wait_for_job(job.id, timeout=120).status == "done"
    a.update_kb("notes", new_name="notes-2", description="second")
    assert b.get_kb("notes-2").description == "second"
    with pytest.raises(NotFound):
        b.get_kb("notes")
    assert b.search("notes-2", "n0001word", mode="lexical")[0].file == "n0001.txt"
    b.delete_kb("notes-2")
    assert "notes-2" not in [kb.name for kb in a.list_kbs()]
    with pytest.raises(NotFound):
        a.search("notes-2", "n0001word")
    a.create_kb("notes-2")  # the same name again: a new, empty KB on both
    assert b.search("notes-2", "n0001word", mode="lexical") == []


def test_postgres_stopped_mid_run_is_a_503_with_the_reason_and_the_servers_recover(setup: Setup) -> None:
    pg, a, b = setup.pg, setup.a, setup.b
    a.create_kb("outage")
    setup.pg.stop()
    try:
        for server in (a, b):
            with httpx.Client(base_url=server.http.base_url, timeout=DB_TIMEOUT_S + 10) as http:
                for path in ("/api/kbs", "/api/kbs/outage/files", "/api/health"):
                    response = http.get(path)
                    assert response.status_code == 503, (path, response.text)
                    body = response.json()["error"]
                    assert body["type"] == "unavailable" and "database" in body["message"], body
    finally:
        pg.start()
    deadline = time.monotonic() + 60
    for server in (a, b):
        while True:
            try:
                if [kb.name for kb in server.list_kbs()].count("outage") == 1:
                    break
            except Exception:
                assert time.monotonic() < deadline, setup.cluster.logs_text()
                time.sleep(0.2)
    job = b.upload("outage", many_small_files(2, tag="o"))  # and the workers took up their work again
    assert a.wait_for_job(job.id, timeout=120).status == "done", setup.cluster.logs_text()
    assert a.search("outage", "o0001word", mode="lexical")[0].file == "o0001.txt"

