"""`zhiku import chatchat PATH` on a data folder laid out exactly as Langchain-Chatchat 0.3 writes
it: ``data/knowledge_base/info.db`` with the tables of Chatchat's ``server/db/models`` (created as
its ``create_tables`` does, from those definitions, and filled as its repository functions fill
them), and per KB ``content/`` (names with folders) and ``vector_store/<embed_model>/``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Integer, MetaData, String, Table, create_engine, func

from zhiku import Zhiku
from zhiku.config import load_settings

ZH = "# 年假制度\n\n入职满一年的员工每年享有十五天带薪年假。年假可以分次休，但每次不少于半天。\n"
SICK = "# 病假\n\n员工因病休假需提供医院证明。病假工资按基本工资的百分之八十发放。\n"
WIKI = "# Home\n\nThe refund desk is open from nine to five on weekdays.\n"

# Chatchat 0.3.1.3, chatchat/server/db/models/*.py (columns, types and defaults as declared there)
chatchat = MetaData()
Table("knowledge_base", chatchat,
      Column("id", Integer, primary_key=True, autoincrement=True), Column("kb_name", String(50)),
      Column("kb_info", String(200)), Column("vs_type", String(50)), Column("embed_model", String(50)),
      Column("file_count", Integer, default=0), Column("create_time", DateTime, default=func.now()))
Table("knowledge_file", chatchat,
      Column("id", Integer, primary_key=True, autoincrement=True), Column("file_name", String(255)),
      Column("file_ext", String(10)), Column("kb_name", String(50)), Column("document_loader_name", String(50)),
      Column("text_splitter_name", String(50)), Column("file_version", Integer, default=1),
      Column("file_mtime", Float, default=0.0), Column("file_size", Integer, default=0),
      Column("custom_docs", Boolean, default=False), Column("docs_count", Integer, default=0),
      Column("create_time", DateTime, default=func.now()))
Table("file_doc", chatchat,
      Column("id", Integer, primary_key=True, autoincrement=True), Column("kb_name", String(50)),
      Column("file_name", String(255)), Column("doc_id", String(50)), Column("meta_data", JSON, default={}))
Table("summary_chunk", chatchat,
      Column("id", Integer, primary_key=True, autoincrement=True), Column("kb_name", String(50)),
      Column("summary_context", String(255)), Column("summary_id", String(255)), Column("doc_ids", String(1024)),
      Column("meta_data", JSON, default={}))


def chatchat_folder(root: Path) -> Path:
    """CHATCHAT_ROOT/data/knowledge_base as Chatchat leaves it after some use."""
    kb_root = root / "data" / "knowledge_base"
    files = {"制度库": {"年假.md": ZH, "病假.md": SICK}, "samples": {"wiki/Home.MD": WIKI}}
    for kb, named in files.items():
        for name, text in named.items():
            p = kb_root / kb / "content" / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        store = kb_root / kb / "vector_store" / "bge-large-zh-v1.5"
        store.mkdir(parents=True)
        (store / "index.faiss").write_bytes(b"\x00FAISS")
        (store / "index.pkl").write_bytes(b"\x80\x04not to be loaded")
    engine = create_engine(f"sqlite:///{kb_root / 'info.db'}")
    chatchat.create_all(engine)
    t = chatchat.tables
    with engine.begin() as conn:  # add_kb_to_db, add_file_to_db
        conn.execute(t["knowledge_base"].insert(), [
            {"kb_name": "制度库", "kb_info": "公司制度", "vs_type": "faiss", "embed_model": "bge-large-zh-v1.5",
             "file_count": 3},
            {"kb_name": "samples", "kb_info": "关于本项目issue的解答", "vs_type": "faiss",
             "embed_model": "bge-large-zh-v1.5", "file_count": 1}])
        row: dict[str, Any] = {"document_loader_name": "UnstructuredMarkdownLoader", "custom_docs": False,
                               "text_splitter_name": "ChineseRecursiveTextSplitter", "file_ext": ".md"}
        conn.execute(t["knowledge_file"].insert(), [
            {**row, "kb_name": "制度库", "file_name": "年假.md", "docs_count": 1, "custom_docs": True},
            {**row, "kb_name": "制度库", "file_name": "病假.md", "docs_count": 1},
            {**row, "kb_name": "制度库", "file_name": "已删除.pdf", "docs_count": 4},  # its original is gone
            {**row, "kb_name": "samples", "file_name": "wiki/Home.MD", "docs_count": 1}])
    engine.dispose()
    return root / "data"


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_import_brings_the_kbs_over_and_changes_nothing(tmp_path: Path, cli: Any, home: Path) -> None:
    data = chatchat_folder(tmp_path / "chatchat")
    before = snapshot(tmp_path / "chatchat")
    r = cli("import", "chatchat", str(data))
    assert r.code == 0, r.out + r.err
    assert "[1/2] 制度库 (created): 2 files" in r.err and "[2/2] samples (created): 1 file" in r.err  # progress
    assert "制度库: 2 added" in r.out and "samples: 1 added" in r.out
    # what could not come over, said per file
    assert "年假.md: its custom chunk edits" in r.out and "已删除.pdf: listed in info.db" in r.out
    assert "not brought over (2)" in r.out
    assert snapshot(tmp_path / "chatchat") == before  # nothing in the source folder changed, no journal left
    with Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}}, environ={})) as a:
        assert {kb.name: kb.description for kb in a.list_kbs()} == {"制度库": "公司制度", "samples": "关于本项目issue的解答"}
        assert sorted(f.name for f in a.list_files("制度库")) == ["年假.md", "病假.md"]
        assert [f.name for f in a.list_files("samples")] == ["wiki/Home.MD"]  # names with folders, as Chatchat's
        assert a.search(["制度库"], "年假有多少天", top_k=1)[0].file == "年假.md"
    # again: nothing new, the same report; --kb picks one; a folder that is not Chatchat's is one clear line
    again = cli("import", "chatchat", str(data / "knowledge_base"), "--kb", "samples")
    assert again.code == 0 and "samples: 0 added" in again.out and "1 unchanged" in again.out, again.out
    wrong = cli("import", "chatchat", str(tmp_path))
    assert wrong.code != 0 and "not a Chatchat data folder" in wrong.err
    missing = cli("import", "chatchat", str(data), "--kb", "没有")
    assert missing.code != 0 and "not in" in missing.err
