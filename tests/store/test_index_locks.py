"""A KB's index files are one set across processes: a load never pairs one revision's manifest with
another revision's vectors or lexical postings while another process saves the same KB.

Two real processes on one folder: a writer saving revision after revision (revision r holds chunks
0..r), and a reader loading through ``IndexManager._load`` at the revision the manifest names. Every
set the reader gets must hold exactly the chunks of that revision, in both indexes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from datetime import datetime, timezone
    from pathlib import Path
    import numpy as np
    from zhiku.config import IndexSettings
    from zhiku.schema import KnowledgeBase
    from zhiku.store.catalog import Catalog
    from zhiku.store.engines import open_engine
    from zhiku.store.indexes import Backends, IndexManager, KBIndexes
    from zhiku.store.lexical import BM25Index
    from zhiku.store.vectors import FaissVectorIndex

    role, root, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    now = datetime.now(timezone.utc)
    kb = KnowledgeBase(id="kb1", name="kb1", embedder="e", dimensions=8, chunk_size=100, chunk_overlap=0,
                       created_at=now, updated_at=now)
    catalog = Catalog(open_engine(f"sqlite:///{root / (role + '.db')}"))
    manager = IndexManager(catalog, root / "indexes", IndexSettings())
    rng = np.random.default_rng(0)
    end = time.monotonic() + seconds
    if role == "writer":
        revision = 0
        while time.monotonic() < end:
            revision += 1
            n = 1 + revision % 400  # sizes differ between revisions, so a mixed set shows
            ids = np.arange(n, dtype=np.int64)
            vectors, lexical = FaissVectorIndex(8), BM25Index()
            vectors.add(ids, rng.standard_normal((n, 8)).astype(np.float32))
            lexical.add(ids.tolist(), [["w%d" % i, "r%d" % revision] for i in range(n)])
            KBIndexes(kb, manager.directory(kb.id), vectors, lexical, revision, manager.backends).save()
        print(json.dumps({"saved": revision}))
    else:
        loads = stale = 0
        while time.monotonic() < end:
            try:
                named = json.loads((manager.directory(kb.id) / "manifest.json").read_text())["revision"]
            except (FileNotFoundError, ValueError):
                continue
            idx = manager._load(kb, named)
            if idx is None:  # the writer moved on in between: stale, never mixed
                stale += 1
                continue
            n = 1 + named % 400
            assert len(idx.vectors) == n, (named, len(idx.vectors), n)
            lex = sorted(np.asarray(idx.lexical.ids()).tolist())
            assert lex == list(range(n)), (named, len(lex), n)
            idx.close()
            loads += 1
        print(json.dumps({"loads": loads, "stale": stale}))
    """
)


@pytest.mark.slow
def test_a_load_never_sees_another_revisions_files_while_another_process_saves(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    procs = [subprocess.Popen([sys.executable, str(script), role, str(tmp_path), "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for role in ("writer", "reader")]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    saved = int(results[0][0].strip().split(":")[1].strip(" }"))
    loads = int(results[1][0].split('"loads": ')[1].split(",")[0])
    assert saved > 5 and loads > 5  # both really ran against each other
