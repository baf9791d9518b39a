"""zhiku's ``milvus`` vector index on a real Milvus server, not milvus-lite: reads wait for zhiku's own writes
(the timestamp of the scope's last write, kept in its manifest for other processes), not for Milvus's next
time tick as a ``Strong`` read does (~400 ms a search on a server).

The server is Milvus 2.3.5 standalone from the ``milvus`` wheel on PyPI (zhiku/testing/milvus_server.py). Milvus
2.3 has no BM25 function, so only the dense index runs here; the lexical one is tested on milvus-lite
(test_milvus_app.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

pytest.importorskip("pymilvus")

from zhiku.testing.milvus_server import MilvusServer  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with MilvusServer(tmp_path_factory.mktemp("milvus-server")) as server:
        yield server.uri


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 384)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_each_vector_is_found_by_the_search_right_after_it_is_added(milvus_uri: str) -> None:
    from zhiku.store.milvus_indexes import MilvusVectorIndex

    index = MilvusVectorIndex(milvus_uri, "", "ryw", 384)
    rng = np.random.default_rng(1)
    index.add(np.arange(200), _unit(rng, 200))
    assert index.written > 0  # the write's timestamp is known: reads wait for it, not for Strong
    added = {}
    for i in range(200, 230):  # each one searched the moment its add returns
        added[i] = _unit(rng, 1)[0]
        index.add(np.array([i]), added[i][None])
        assert index.search(added[i], 5)[0][0] == i
    index.remove([205])  # and a removal is seen at once too
    assert 205 not in {h[0] for h in index.search(added[205], 10)}
    assert index.search(added[206], 5)[0][0] == 206


CHILD = r"""
import sys, time
import numpy as np
from pathlib import Path
from zhiku.store.milvus_indexes import MilvusVectorType
index = MilvusVectorType(sys.argv[1]).load(Path(sys.argv[2]), 384)
query = np.load(sys.argv[3])
found = [index.search(q, 5)[0][0] for q in query]
print(index.written, " ".join(map(str, found)))
"""


def test_another_process_that_loads_the_saved_scope_reads_every_write_it_names(milvus_uri: str, tmp_path: Path) -> None:
    """The manifest carries the writer's last write timestamp: a reading process (a server beside a `zhiku worker`)
    searches at once after the save and finds every vector, without a Strong read."""
    from zhiku.store.milvus_indexes import MilvusVectorType

    kind = MilvusVectorType(milvus_uri)
    index = kind.for_kb("kb-shared", 384)
    vectors = _unit(np.random.default_rng(2), 50)
    for start in range(0, 50, 10):  # several writes, the last one just before the save
        index.add(np.arange(start, start + 10), vectors[start:start + 10])
    manifest = tmp_path / "vectors.json"
    index.save(manifest)
    np.save(tmp_path / "q.npy", vectors[-5:])
    child = subprocess.run([sys.executable, "-c", CHILD, milvus_uri, str(manifest), str(tmp_path / "q.npy")],
                           capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert child.returncode == 0, child.stderr[-2000:]
    written, found = child.stdout.split(maxsplit=1)
    assert int(written) == index.written > 0
    assert [int(x) for x in found.split()] == list(range(45, 50))


def test_a_server_beside_a_worker_finds_each_jobs_files_the_moment_the_job_is_done(milvus_uri: str,
                                                                                   tmp_path: Path) -> None:
    """The topology docs/deploy.md describes: `zhiku start` queues uploads, a `zhiku worker` ingests them into the
    Milvus server; the server's searches (another process) see every file as soon as its job is done."""
    from tests.scale.conftest import Cluster, write_config

    home = tmp_path / "home"
    write_config(home, None, index={"vector": "milvus", "lexical": "bm25", "milvus_uri": milvus_uri},
                 jobs={"ingest_in_server": False}, llm={"detect_local": False})
    cluster = Cluster(home, tmp_path / "logs")
    try:
        server = cluster.server("server")
        cluster.worker("worker")
        server.create_kb("kb")
        for k in range(5):
            files = [(f"f{k}-{i}.txt", f"File {k}-{i}. Its marker is m{k}x{i}word, found nowhere else.\n".encode())
                     for i in range(3)]
            done = server.wait_for_job(server.upload("kb", files).id, timeout=300, poll_s=0.05)
            assert done.status == "done" and done.files_failed == 0, cluster.logs_text()
            found = {h.file for h in server.search(["kb"], f"m{k}x1word", mode="dense", top_k=50)}
            assert {f"f{k}-{i}.txt" for i in range(3)} <= found, cluster.logs_text()
    finally:
        cluster.close()
