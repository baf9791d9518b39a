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
