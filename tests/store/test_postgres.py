"""The same catalog, ingestion and search on a real PostgreSQL (zhiku/testing/postgres.py starts one), with
the file indexes (faiss, bm25) and with the indexes in the database (pgvector, pg_bm25)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from zhiku import Zhiku, load_settings
from zhiku.schema import AnswerRequest


RESIDENT = {"vector": "pgvector", "lexical": "pg_bm25"}


@pytest.fixture(params=["file-indexes", "resident-indexes"])
def pg_app(request: pytest.FixtureRequest, postgres_url: str, tmp_path: Path) -> Iterator[Zhiku]:
    index = RESIDENT if request.param == "resident-indexes" else {}
    app = Zhiku(load_settings(home=tmp_path / "home", overrides={
        "database_url": postgres_url, "embedding": {"default": "static"}, "index": index}))
    yield app
    app.close()


def test_ingest_replace_search_remove_on_postgres(pg_app: Zhiku, tmp_path: Path) -> None:
    app = pg_app
    assert app.engine.dialect.name == "postgresql"
    app.create_kb("制度", description="公司制度")
    d = tmp_path / "docs"
    d.mkdir()
    (d / "leave.md").write_text("# 年假\n\n入职满一年的员工每年享有十五天带薪年假。\n", encoding="utf-8")
    (d / "refund.md").write_text("# Refunds\n\nRefunds are paid within 14 days.\n", encoding="utf-8")
    assert app.add_files("制度", [d]).added == ["docs/leave.md", "docs/refund.md"]
    assert app.add_files("制度", [d]).skipped == [("docs/leave.md", "unchanged"), ("docs/refund.md", "unchanged")]
    (d / "refund.md").write_text("# Refunds\n\nRefunds are paid within 30 days.\n", encoding="utf-8")
    assert app.add_files("制度", [d]).replaced == ["docs/refund.md"]
    hits = app.search(["制度"], "refund days", mode="lexical")
    assert "30 days" in hits[0].text and not any("14 days" in h.text for h in hits)
    assert app.search(["制度"], "年假多少天")[0].file == "docs/leave.md"
    assert app.check("制度") == []
    assert app.rebuild("制度") == app.kb("制度").chunks
    app.remove_files("制度", ["docs/leave.md"])
    assert [f.name for f in app.list_files("制度")] == ["docs/refund.md"]
    answer = app.answer(AnswerRequest(mode="kb", kbs=["制度"], question="Refunds are paid within how many days?",
                                      extractive=True))
    assert answer.found and "30 days" in answer.answer
    app.delete_kb("制度")
    assert app.list_kbs() == []


def _docs(root: Path) -> Path:
    d = root / "docs"
    d.mkdir()
    (d / "leave.md").write_text("# 年假\n\n入职满一年的员工每年享有十五天带薪年假。病假需要医院证明。\n", encoding="utf-8")
    (d / "refund.md").write_text("# Refunds\n\nRefunds are paid within 14 days of the request.\n", encoding="utf-8")
    (d / "travel.md").write_text("# 差旅\n\n出差住宿标准为每晚五百元，机票需经理审批。\n\n## 报销\n\n差旅报销在两周内完成。\n",
                                 encoding="utf-8")
    return d


def test_resident_indexes_score_as_the_embedded_ones(postgres_url: str, tmp_path: Path) -> None:
    """Same files, same questions: the same hits with the same scores (pgvector's halfvec and faiss's
    float16 differ in the last digits only) on SQLite + faiss + bm25 and on PostgreSQL + pgvector + pg_bm25."""
    d = _docs(tmp_path)
    embedded = Zhiku(load_settings(home=tmp_path / "a", overrides={"embedding": {"default": "static"}}))
    resident = Zhiku(load_settings(home=tmp_path / "b", overrides={
        "database_url": postgres_url, "embedding": {"default": "static"}, "index": RESIDENT}))
    try:
        for app in (embedded, resident):
            app.create_kb("kb")
            app.add_files("kb", [d])
        for mode in ("hybrid", "dense", "lexical"):
            for question in ("年假有多少天", "refund within days", "差旅报销多久", "机票审批"):
                want = embedded.search(["kb"], question, mode=mode, top_k=5)
                got = resident.search(["kb"], question, mode=mode, top_k=5)
                assert [(h.file, h.text) for h in got] == [(h.file, h.text) for h in want], (mode, question)
                for g, w in zip(got, want):
                    assert 0.0 <= g.score <= 1.0 and abs(g.score - w.score) < 2e-3, (mode, question, g, w)
    finally:
        embedded.close()
        resident.close()


def test_two_servers_on_one_database_see_every_change_at_once(postgres_url: str, tmp_path: Path) -> None:
    """With the indexes in the database there is no per-process copy: what one process commits, the
    other finds on its next search; `kb check` compares in SQL, rebuild is a repair that changes nothing."""
    settings = {"database_url": postgres_url, "embedding": {"default": "static"}, "index": RESIDENT}
    one = Zhiku(load_settings(home=tmp_path / "home", overrides=settings))  # stored originals: one shared home
    two = Zhiku(load_settings(home=tmp_path / "home", overrides=settings))
    try:
        one.create_kb("kb")
        assert two.search(["kb"], "年假") == []  # two has the KB's (empty) indexes open from here on
        d = _docs(tmp_path)
        one.add_files("kb", [d / "leave.md"])
        assert two.search(["kb"], "年假多少天")[0].file == "leave.md"
        two.add_files("kb", [d / "refund.md"])
        assert one.search(["kb"], "refund days", mode="lexical")[0].file == "refund.md"
        one.remove_files("kb", ["leave.md"])
        assert all(h.file != "leave.md" for h in two.search(["kb"], "年假多少天", top_k=10))
        _, chunks = two.file_chunks("kb", "refund.md")
        two.edit_chunk("kb", chunks[-1].id, "Refunds are paid within 60 days of the request.")
        assert "60 days" in one.search(["kb"], "refund days", mode="lexical")[0].text
        assert one.check("kb") == [] and two.check("kb") == []
        assert one.rebuild("kb") == one.kb("kb").chunks
        assert two.check("kb") == []
        assert not (tmp_path / "home" / "indexes").exists()
        one.delete_kb("kb")
        with one.engine.connect() as conn:
            from sqlalchemy import text

            assert conn.execute(text("SELECT count(*) FROM chunk_vectors")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM lexical_postings")).scalar() == 0
    finally:
        one.close()
        two.close()


def test_the_test_server_stops_and_comes_back_at_the_same_url(tmp_path: Path) -> None:
    """zhiku/testing/postgres.py: a private server for database-down tests; its URL works from another
    process and again after a restart, with the data still there."""
    import subprocess
    import sys

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from zhiku.testing.postgres import LocalPostgres

    with LocalPostgres(tmp_path / "pg") as server:
        url = server.new_database("kept")
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x int)"))
            conn.execute(text("INSERT INTO t VALUES (42)"))
            assert conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
        read = "from sqlalchemy import create_engine, text; import sys; " \
               "print(create_engine(sys.argv[1]).connect().execute(text('SELECT x FROM t')).scalar())"
        assert subprocess.run([sys.executable, "-c", read, url], capture_output=True, text=True).stdout.strip() == "42"
        engine.dispose()
        server.stop()
        with pytest.raises(OperationalError, match="Connection refused"):
            create_engine(url).connect()
        server.start()
        with create_engine(url).connect() as conn:
            assert conn.execute(text("SELECT x FROM t")).scalar() == 42
