"""A `kb add` killed mid-way (SIGKILL) leaves the KB consistent; running it again completes it. Once on
the embedded default (SQLite + faiss + bm25: the indexes are rebuilt from the database where stale),
once on PostgreSQL with the indexes in the database (pgvector, pg_bm25): there `zhiku kb check`
finds database and indexes in agreement right after the kill, nothing to rebuild."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from zhiku import Zhiku, load_settings

pytestmark = pytest.mark.slow


def _zhiku(home: Path, env: dict[str, str], *args: str, **kw: Any) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    return subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(home), *args], env={**clean, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture(params=["embedded", "postgres"])
def backend_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings (as environment) of the backend under test."""
    if request.param == "embedded":
        return {}
    url = request.getfixturevalue("postgres_url")
    return {"ZHIKU_DATABASE_URL": url, "ZHIKU_INDEX__VECTOR": "pgvector", "ZHIKU_INDEX__LEXICAL": "pg_bm25",
            "ZHIKU_EMBEDDING__DEFAULT": "static"}  # static: fast files, so the kill lands in any step


def _overrides(env: dict[str, str]) -> dict[str, Any]:
    if not env:
        return {}
    return {"database_url": env["ZHIKU_DATABASE_URL"], "embedding": {"default": "static"},
            "index": {"vector": "pgvector", "lexical": "pg_bm25"}}


def test_killed_ingest_leaves_kb_consistent_and_rerun_completes(tmp_path: Path, backend_env: dict[str, str]) -> None:
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        body = "\n\n".join(
            f"第{i}号文档第{j}段：这是关于项目{i}的说明，包含预算{i * 100 + j}元和负责人张{j}。" * 3 for j in range(6))
        (docs / f"doc{i:02d}.md").write_text(f"# 文档 {i}\n\n{body}\n", encoding="utf-8")
    created = _zhiku(home, backend_env, "kb", "create", "kb")
    assert created.wait(timeout=120) == 0, created.communicate()[1]
    resident = bool(backend_env)

    proc = _zhiku(home, backend_env, "kb", "add", "kb", str(docs))
    added = 0
    deadline = time.monotonic() + 300
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if "added" in line:
            added += 1
            if added == 3:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"

    if resident:  # `zhiku kb check`: no index problem at all (only the interrupted file, if any)
        check = _zhiku(home, backend_env, "kb", "check", "kb")
        out, err = check.communicate(timeout=120)
        problems = [p for p in err.splitlines() if p.startswith("problem:")]
        assert all("interrupted" in p or "stray" in p for p in problems), err
        assert check.returncode == (1 if problems else 0) and ("is consistent" in out) == (not problems)

    # consistent after the kill: every indexed file has its chunks, searchable; nothing half-written
    with Zhiku(load_settings(home=home, overrides=_overrides(backend_env))) as app:
        files = app.list_files("kb")
        indexed = [f for f in files if f.status == "indexed"]
        assert 3 <= len(indexed) < 40
        assert all(f.status in ("indexed", "pending") for f in files)
        for f in indexed:
            _, chunks = app.file_chunks("kb", f.name)
            assert len(chunks) == f.chunks > 0
        problems = app.check("kb")
        allowed = ("interrupted", "stray") if resident else (
            "interrupted", "revision", "stray", "lexical", "vector", "manifest")
        assert all(any(word in p for word in allowed) for p in problems), problems
        hits = app.search(["kb"], "项目1的说明", top_k=50)
        assert {h.file for h in hits} <= {f.name for f in indexed}

    # running the same command again completes it, reusing what was embedded
    done = _zhiku(home, backend_env, "kb", "add", "kb", str(docs))
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    with Zhiku(load_settings(home=home, overrides=_overrides(backend_env))) as app:
        files = app.list_files("kb")
        assert len(files) == 40 and all(f.status == "indexed" for f in files)
        assert app.check("kb") == []
        assert app.kb("kb").chunks == sum(f.chunks for f in files)
        hits = app.search(["kb"], "第39号文档", mode="lexical")
        assert hits and hits[0].file == "docs/doc39.md"
        if resident:
            assert not (home / "indexes").exists() or not any((home / "indexes").rglob("manifest.json"))


# -- random kills of every kind of change (issue 20's permanent list) ---------------------------
def test_random_sigkills_of_ingestion_deletion_and_reindexing_leave_the_kb_consistent(tmp_path: Path) -> None:
    """Ten or more SIGKILLs at random moments (a fixed seed): `kb add`, `kb add --force` (every file replaced),
    `kb remove`, `kb rebuild`, and `zhiku start` during an HTTP upload and during deletes; after each,
    every file is indexed or failed, the chunk counts agree, search finds no file that is not indexed
    and the KB's check is clean (tests/hardening/crash.py; scripts/reliability.py runs over a hundred)."""
    from tests.hardening.crash import OPS, cli_check, series

    runs = series(tmp_path, 10, seed=20, min_killed=5)  # more runs, cut sooner, where too few were cut
    assert {r.op for r in runs} == set(OPS)
    assert [(r.op, r.problems) for r in runs if r.problems] == []
    assert sum(r.killed for r in runs) >= 5, [(r.op, r.delay_s, r.killed) for r in runs]  # most runs were cut
    assert cli_check(tmp_path / "home") == []
