"""A large KB's vector scan runs on a scan thread beside the BM25 search: same hits as one after the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhiku import Zhiku
from zhiku.retrieval import search


def test_overlapped_scan_gives_the_same_hits(app: Zhiku, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, text in enumerate(["年假：入职满一年的员工享有十五天带薪年假。", "Refunds are paid within 14 days of the request.",
                              "差旅报销须在出差结束后三十日内提交。", "The warehouse keeps green tea in aisle seven."]):
        (docs / f"d{i}.md").write_text(text, encoding="utf-8")
    app.create_kb("kb")
    assert app.add_files("kb", [docs]).ok
    questions = ["年假有几天", "when are refunds paid", "报销期限", "where is the tea"]
    sequential = [app.search(["kb"], q, top_k=3, mode="hybrid") for q in questions]
    monkeypatch.setattr(search, "OVERLAP_MIN_VECTORS", 0)  # treat this small KB as a large one
    overlapped = [app.search(["kb"], q, top_k=3, mode="hybrid") for q in questions]
    assert overlapped == sequential and all(hits for hits in overlapped)
    assert app.retriever._scan_pool is not None  # the scans did run on the scan threads
    app.retriever.close()
    assert app.search(["kb"], questions[0], top_k=3, mode="hybrid") == sequential[0]  # a closed pool is made again
