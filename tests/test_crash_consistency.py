"""A `kb add` killed mid-way leaves the KB consistent; running it again completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zhiku import Zhiku, load_settings

pytestmark = pytest.mark.slow


def _zhiku(home: Path, *args: str, **kw) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
    return subprocess.Popen([sys.executable, "-m", "zhiku", "--home", str(home), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_killed_ingest_leaves_kb_consistent_and_rerun_completes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(40):
        body = "\n\n".join(
            f"第{i}号文档第{j}段：这是关于项目{i}的说明，包含预算{i * 100 + j}元和负责人张{j}。" * 3 for j in range(6))
        (docs / f"doc{i:02d}.md").write_text(f"# 文档 {i}\n\n{body}\n", encoding="utf-8")
    assert subprocess.run([sys.executable, "-m", "zhiku", "--home", str(home), "kb", "create", "kb"],
                          capture_output=True, env={k: v for k, v in os.environ.items()
                                                    if not k.startswith("ZHIKU_")}).returncode == 0

    proc = _zhiku(home, "kb", "add", "kb", str(docs))
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

    # consistent after the kill: every indexed file has its chunks, searchable; nothing half-written
    with Zhiku(load_settings(home=home)) as app:
        files = app.list_files("kb")
        indexed = [f for f in files if f.status == "indexed"]
        assert 3 <= len(indexed) < 40
        assert all(f.status in ("indexed", "pending") for f in files)
        for f in indexed:
            _, chunks = app.file_chunks("kb", f.name)
            assert len(chunks) == f.chunks > 0
        problems = app.check("kb")
        assert all("interrupted" in p or "revision" in p or "stray" in p or "lexical" in p or "vector" in p
                   or "manifest" in p for p in problems), problems
        hits = app.search(["kb"], "项目1的说明", top_k=50)
        assert {h.file for h in hits} <= {f.name for f in indexed}

    # running the same command again completes it, reusing what was embedded
    done = _zhiku(home, "kb", "add", "kb", str(docs))
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    with Zhiku(load_settings(home=home)) as app:
        files = app.list_files("kb")
        assert len(files) == 40 and all(f.status == "indexed" for f in files)
        assert app.check("kb") == []
        assert app.kb("kb").chunks == sum(f.chunks for f in files)
        hits = app.search(["kb"], "第39号文档", mode="lexical")
        assert hits and hits[0].file == "docs/doc39.md"
