"""A KB moved by one process while a `zhiku start` server on the same database and home serves it: the
server answers every search during the move (the same top hit), then reads the moved KB from its new
backend and writes a file uploaded afterwards into it (the backend is the KB's, read in each transaction,
not the process's settings); `zhiku --server URL kb migrate` moves it back through the API with its
progress, and `zhiku kb check` is clean after each step."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.scale.conftest import Cluster, many_small_files, write_config

pytestmark = pytest.mark.slow


def _zhiku(home: Path, *args: str) -> tuple[int, str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    proc = subprocess.run([sys.executable, "-m", "zhiku", "--home", str(home), *args], env=clean,
                          capture_output=True, text=True, timeout=900)
    return proc.returncode, proc.stdout, proc.stderr


def test_a_server_serves_a_kb_moved_by_another_process(postgres_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home, postgres_url)  # the embedded index backends: the default
    cluster = Cluster(home, tmp_path / "logs")
    try:
        server = cluster.server("server")
        server.create_kb("k")
        job = server.upload("k", many_small_files(60, tag="m"))
        assert server.wait_for_job(job.id, timeout=300).status == "done"
        words = ["m0003word", "m0017word", "m0042word"]
        assert [server.search("k", w)[0].file for w in words] == ["m0003.txt", "m0017.txt", "m0042.txt"]
        stop, answers, errors = threading.Event(), [], []

        def searcher() -> None:
            while not stop.is_set():
                try:
                    answers.append([server.search("k", w)[0].file for w in words])
                except Exception as exc:  # noqa: BLE001 - collected and asserted on
                    errors.append(exc)

        thread = threading.Thread(target=searcher)
        thread.start()
        try:
            code, out, err = _zhiku(home, "kb", "migrate", "k", "--to", "postgres", "--batch", "10")
        finally:
            stop.set()
            thread.join()
        assert code == 0 and "is on postgres" in out, err + cluster.logs_text()
        assert not errors and answers and all(a == ["m0003.txt", "m0017.txt", "m0042.txt"] for a in answers), errors
        assert server.get_kb("k").index_backend == "postgres"
        job = server.upload("k", many_small_files(2, start=500, tag="late"))  # the server writes it resident
        assert server.wait_for_job(job.id, timeout=300).status == "done"
        assert server.search("k", "late0501word")[0].file == "late0501.txt"
        code, out, err = _zhiku(home, "kb", "check", "k")
        assert code == 0 and "is consistent" in out, err

        code, out, err = _zhiku(home, "--server", cluster.procs[0].url, "kb", "migrate", "k", "--to", "embedded")
        assert code == 0 and "is on embedded" in out, err + cluster.logs_text()
        kb: Any = server.get_kb("k")
        assert kb.index_backend == "embedded" and server.search("k", "late0501word")[0].file == "late0501.txt"
        code, out, err = _zhiku(home, "kb", "check", "k")
        assert code == 0 and "is consistent" in out, err
    finally:
        cluster.close()
