"""A large file's chunks are written in batches while it is ``pending`` (issue 20: memory), and a
file's chunks can be replaced one for one whatever their number (issue 16, item 4: Chatchat's custom
docs). On every index backend: the embedded FAISS + BM25, PostgreSQL with pgvector + pg_bm25 (the
indexes in the database, changed in the catalog's transactions) and Milvus (milvus-lite).

The batch size is made small (``Ingestor.stage_chunks``) so a few KB of text takes the batched path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from zhiku import Zhiku, load_settings
from zhiku.errors import Cancelled
from zhiku.store.catalog import Catalog
from zhiku.store.engines import open_engine

STEP = 4
PARAS = 15


@pytest.fixture(params=["embedded", pytest.param("postgres", marks=pytest.mark.slow),
                        pytest.param("milvus", marks=pytest.mark.slow)])
def overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    base: dict[str, Any] = {"embedding": {"default": "static"}}
    if request.param == "postgres":
        return {**base, "database_url": request.getfixturevalue("postgres_url"),
                "index": {"vector": "pgvector", "lexical": "pg_bm25"}}
    if request.param == "milvus":
        return {**base, "index": {"vector": "milvus", "lexical": "milvus_bm25"}}
    return base


@pytest.fixture
def app(tmp_path: Path, overrides: dict[str, Any]) -> Iterator[Zhiku]:
    a = Zhiku(load_settings(home=tmp_path / "home", overrides=overrides, environ={}))
    a.ingestor.stage_chunks = STEP
    a.create_kb("kb")
    yield a
    a.close()


def _long_file(path: Path, tag: str) -> Path:
    """PARAS paragraphs of ~450 characters (one chunk each at the default 500), each with a word of its own."""
    paras = [f"{tag}word{i} " + " ".join(f"filler{i}x{j} text about topic {tag}" for j in range(16)) + "."
             for i in range(PARAS)]
    path.write_text(f"# {tag}\n\n" + "\n\n".join(paras) + "\n", encoding="utf-8")
    return path


def _files_chunks(app: Zhiku, name: str) -> list[str]:
    record = next(f for f in app.list_files("kb") if f.name == name)
    return [c.text for c in app.file_chunks("kb", record.id)[1]]


def _found(app: Zhiku, word: str) -> list[str]:
    return [h.text for h in app.search(["kb"], word, top_k=5, mode="lexical") if word in h.text]


def test_a_large_file_is_committed_in_batches_and_searchable_whole(app: Zhiku, tmp_path: Path) -> None:
    report = app.add_files("kb", [_long_file(tmp_path / "big.md", "alpha")])
    assert report.failed == [] and report.chunks > 2 * STEP
    texts = _files_chunks(app, "big.md")
    assert len(texts) == report.chunks and all(f"alphaword{i}" in " ".join(texts) for i in range(PARAS))
    for i in (0, PARAS // 2, PARAS - 1):  # from the first, a middle and the last batch
        assert _found(app, f"alphaword{i}"), i
    assert app.check("kb") == []
    # a new version replaces it as a small file's commit does: the old chunks gone from every index
    (tmp_path / "big.md").write_text((tmp_path / "big.md").read_text().replace("alpha", "beta"), encoding="utf-8")
    assert app.add_files("kb", [tmp_path / "big.md"]).replaced == ["big.md"]
    assert _found(app, "betaword3") and not _found(app, "alphaword3")
    assert [f.status for f in app.list_files("kb")] == ["indexed"] and app.check("kb") == []


def test_a_cancel_mid_file_leaves_no_chunk_of_it(app: Zhiku, tmp_path: Path) -> None:
    embedded = 0

    class Progress:
        def files_found(self, total: int) -> None: ...
        def file_started(self, name: str, chunks: int) -> None: ...
        def file_finished(self, name: str, outcome: Any, detail: str = "") -> None: ...

        def chunks_embedded(self, n: int) -> None:
            nonlocal embedded
            embedded += n

    with pytest.raises(Cancelled):
        app.add_files("kb", [_long_file(tmp_path / "big.md", "gamma")], progress=Progress(),
                      cancelled=lambda: embedded >= 2 * STEP)
    kb = app.kb("kb")
    assert embedded >= 2 * STEP and sum(app.catalog.chunk_counts(kb.id).values()) == 0
    assert not _found(app, "gammaword0")


_CRASH = r"""
import json, os, sys
from pathlib import Path
from zhiku import Zhiku, load_settings

home, path, overrides, step = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
app = Zhiku(load_settings(home=home, overrides=overrides, environ={}))
app.ingestor.stage_chunks = step
embedded = 0

class Progress:
    def files_found(self, total): ...
    def file_started(self, name, chunks): ...
    def file_finished(self, name, outcome, detail=""): ...
    def chunks_embedded(self, n):
        global embedded
        embedded += n
        if embedded >= 3 * step:  # two batches written, the third embedded: the process dies here
            os._exit(9)

app.add_files("kb", [path], progress=Progress())
"""


def test_a_crash_mid_file_leaves_nothing_searchable_and_is_cleaned_at_start(
        tmp_path: Path, overrides: dict[str, Any]) -> None:
    home = tmp_path / "home"
    with Zhiku(load_settings(home=home, overrides=overrides, environ={})) as first:
        first.create_kb("kb")
        first.add_files("kb", [_long_file(tmp_path / "kept.md", "delta")])
        kb_id, db_url = first.kb("kb").id, first.settings.db_url
    path = _long_file(tmp_path / "big.md", "omega")
    run = subprocess.run([sys.executable, "-c", _CRASH, str(home), str(path), json.dumps(overrides), str(STEP)],
                         capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], timeout=300)
    assert run.returncode == 9, run.stderr
    # what the crash left: the pending file with the batches it wrote (read without opening the app)
    engine = open_engine(db_url, 30)
    try:
        catalog = Catalog(engine)
        pending = catalog.list_files(kb_id, "pending")
        assert [f.name for f in pending] == ["big.md"]
        assert catalog.chunk_counts(kb_id).get(pending[0].id, 0) == 2 * STEP
    finally:
        engine.dispose()
    with Zhiku(load_settings(home=home, overrides=overrides, environ={})) as app:  # start-up clean-up
        assert [(f.name, f.status) for f in app.list_files("kb")] == [("kept.md", "indexed")]
        assert not _found(app, "omegaword0") and _found(app, "deltaword0")
        assert app.check("kb") == []
        assert set(app.catalog.chunk_counts(kb_id)) == {app.list_files("kb")[0].id}
        app.ingestor.stage_chunks = STEP
        assert app.add_files("kb", [path]).added == ["big.md"]  # added again, whole
        assert _found(app, "omegaword0") and _found(app, f"omegaword{PARAS - 1}") and app.check("kb") == []


@pytest.mark.parametrize("counts", [(3, 5), (5, 2)])
def test_replace_chunks_one_for_one_whatever_their_number(app: Zhiku, tmp_path: Path, counts: tuple[int, int]) -> None:
    before, after = counts
    (tmp_path / "f.md").write_text("# f\n\nsomething to start from.\n", encoding="utf-8")
    app.add_files("kb", [tmp_path / "f.md"])
    kb = app.kb("kb")
    old = [f"oldtext{i} about the first version" for i in range(before)]
    assert app.ingestor.replace_chunks(kb, "f.md", old) == before
    assert _files_chunks(app, "f.md") == old and _found(app, f"oldtext{before - 1}")
    new = [f"newtext{i} about the second version" for i in range(after)]
    new[0] = old[0]  # an unchanged chunk keeps its place
    assert app.ingestor.replace_chunks(kb, "f.md", new) == after
    assert _files_chunks(app, "f.md") == new
    for i in range(1, after):
        assert _found(app, f"newtext{i}"), i
    for i in range(1, before):
        assert not _found(app, f"oldtext{i}"), i
    assert _found(app, "oldtext0")
    record = next(f for f in app.list_files("kb") if f.name == "f.md")
    assert record.chunks == after and app.check("kb") == []
    chunks = app.file_chunks("kb", record.id)[1]
    assert [c.meta.get("edited", False) for c in chunks] == [True] * after
