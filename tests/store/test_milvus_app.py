"""zhiku on Milvus end to end (milvus-lite in the home, started by zhiku itself): a `kb add` killed with
SIGKILL mid-way leaves Milvus behind the database's revision; `zhiku kb check` says so, `--repair`
rebuilds the KB's copy in Milvus, and the KB answers from every indexed file; deleting the KB deletes its
rows in Milvus. Milvus is a derived index (docs/backends.md): the manager's revision rules apply."""

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
from zhiku.store.milvus_indexes import LEXICAL, client, close_client

pytestmark = pytest.mark.slow
ENV = {"ZHIKU_INDEX__VECTOR": "milvus", "ZHIKU_INDEX__LEXICAL": "milvus_bm25", "ZHIKU_EMBEDDING__DEFAULT": "static"}
OVERRIDES: dict[str, Any] = {"embedding": {"default": "static"}, "index": {"vector": "milvus", "lexical": "milvus_bm25"}}


def _zhiku(home: Path, *args: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    return subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(home), *args], env={**clean, **ENV},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(home: Path, *args: str) -> tuple[int, str, str]:
    proc = _zhiku(home, *args)
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err


def test_a_killed_ingest_is_found_by_kb_check_and_repaired(tmp_path: Path) -> None:
    home, docs = tmp_path / "home", tmp_path / "docs"
    docs.mkdir()
    for i in range(30):
        body = "\n\n".join(f"第{i}号文档第{j}段：项目{i}的预算是{i * 100 + j}元，负责人张{j}。" * 3 for j in range(5))
        (docs / f"doc{i:02d}.md").write_text(f"# 文档 {i}\n\n{body}\n", encoding="utf-8")
    assert _run(home, "kb", "create", "kb")[0] == 0

    proc = _zhiku(home, "kb", "add", "kb", str(docs))
    assert proc.stderr is not None
    added, deadline = 0, time.monotonic() + 300
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

    rc, out, err = _run(home, "kb", "check", "kb")
    # killed between a file's commit and Milvus's save, Milvus holds less than the database says and
    # check says so; killed between two files (the kill lands where it lands), both already agree
    assert (rc == 1 and "revision" in err) or (rc == 0 and "is consistent" in out), (out, err)
    if rc == 1:
        rc, out, err = _run(home, "kb", "check", "kb", "--repair")
        assert "repaired" in out, (out, err)
    rc, out, err = _run(home, "kb", "check", "kb")
    assert rc == 0 and "is consistent" in out, (out, err)

    rc, out, err = _run(home, "kb", "add", "kb", str(docs))  # the rest, into the repaired copy
    assert rc == 0, err
    uri = str(home / "indexes" / "milvus.db")
    try:
        with Zhiku(load_settings(home=home, overrides=OVERRIDES)) as app:
            files = app.list_files("kb")
            assert len(files) == 30 and all(f.status == "indexed" for f in files)
            assert app.check("kb") == []
            hits = app.search(["kb"], "第29号文档", mode="lexical")
            assert hits and hits[0].file == "docs/doc29.md"
            dense = app.search(["kb"], "项目7的预算", mode="dense", top_k=5)
            assert dense and all(h.file.startswith("docs/doc") for h in dense)
            kb_id = app.kb("kb").id
            rows = client(uri).query(LEXICAL, filter=f'kb like "{kb_id}@%"', output_fields=["count(*)"])
            assert rows[0]["count(*)"] == app.kb("kb").chunks  # one generation: the repaired one, completed
            app.delete_kb("kb")
            rows = client(uri).query(LEXICAL, filter=f'kb like "{kb_id}@%"', output_fields=["count(*)"])
            assert rows[0]["count(*)"] == 0
    finally:
        close_client(uri)
