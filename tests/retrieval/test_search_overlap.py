"""A large KB's vector scan runs on a scan thread beside the BM25 search: same hits as one after the other."""

from __future__ import annotations

import threading
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


class _Busy:
    def __init__(self, others: int) -> None:
        self.n = others

    def others(self) -> int:
        return self.n


def test_bm25_runs_beside_the_question_embedding_when_the_encoder_cannot_have_every_core(
    app: Zhiku, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hybrid question that must be embedded starts its BM25 searches (every KB's, with the file
    filter) on the scan threads first when something else is running (the encoder then sizes its
    team below all cores anyway); on an idle machine, for a question whose vector is cached or given,
    or in small KBs it does not. Either way the hits are the same."""
    docs = tmp_path / "docs"
    docs.mkdir()
    texts = ["年假：入职满一年的员工享有十五天带薪年假。", "Refunds are paid within 14 days of the request.",
             "差旅报销须在出差结束后三十日内提交。", "The warehouse keeps green tea in aisle seven."]
    for i, text in enumerate(texts):
        (docs / f"d{i}.md").write_text(text, encoding="utf-8")
    app.create_kb("kb")
    app.create_kb("kb2")
    assert app.add_files("kb", [docs]).ok and app.add_files("kb2", [docs / "d1.md", docs / "d3.md"]).ok
    app.settings.retrieval.query_cache = 0
    retriever = app.retriever
    threads: list[str] = []
    kbs = [app.kb("kb"), app.kb("kb2")]
    for kb in kbs:
        lexical = app.indexes.get(kb).lexical
        search_lexical = lexical.search

        def recorded(tokens, k, allowed=None, _search=search_lexical):  # type: ignore[no-untyped-def]
            if allowed is None:  # the channel's search (the hits' coverage is looked up by id afterwards)
                threads.append(threading.current_thread().name)
            return _search(tokens, k, allowed)

        monkeypatch.setattr(lexical, "search", recorded)
    questions = ["年假有几天", "when are refunds paid", "报销期限", "where is the tea"]

    def run(mode: str, busy: int, **kw: object) -> list:
        retriever.lexical_first = mode
        monkeypatch.setattr(retriever, "_busy", _Busy(busy))
        threads.clear()
        return [retriever.search(kbs, q, 3, "hybrid", **kw) for q in questions]  # type: ignore[arg-type]

    sequential = run("never", 1)
    assert all(sequential) and not any(t.startswith("zhiku-scan") for t in threads)
    assert run("auto", 1) == sequential and not any(t.startswith("zhiku-scan") for t in threads)  # small KBs
    monkeypatch.setattr(search, "OVERLAP_MIN_VECTORS", 0)  # treat these small KBs as large ones
    assert run("auto", 1) == sequential
    assert threads and all(t.startswith("zhiku-scan") for t in threads)  # BM25 ran beside the embedding
    assert run("auto", 0) == sequential and not any(t.startswith("zhiku-scan") for t in threads)  # idle
    assert run("always", 0) == sequential and all(t.startswith("zhiku-scan") for t in threads)
    filtered = [retriever.search(kbs, q, 3, "hybrid", file_glob="d1.md") for q in questions]
    assert run("always", 1, file_glob="d1.md") == filtered
    assert filtered[1] and {h.file.rsplit("/", 1)[-1] for hits in filtered for h in hits} == {"d1.md"}
    vec = app.embedder(kbs[0].embedder).embed_query(questions[0])
    retriever.lexical_first = "always"
    threads.clear()
    retriever.search(kbs, questions[0], 3, "hybrid", query_vectors={kbs[0].embedder: vec})
    assert threads and not any(t.startswith("zhiku-scan") for t in threads)  # nothing to embed: no head start


def test_the_busy_reading_counts_other_running_work_but_not_the_caller() -> None:
    """What ``lexical_first="auto"`` asks: another process spinning is seen; where /proc cannot be read
    (the portable path) nothing is."""
    import subprocess
    import sys
    import time

    from zhiku.embed.cores import IdleCores

    assert IdleCores("zhiku-test", portable=True).others() == 0
    if not sys.platform.startswith("linux"):
        return
    busy = IdleCores("zhiku-test")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        deadline = time.monotonic() + 10
        while busy.others() < 1:  # a spinning process is runnable at every reading once it has started
            assert time.monotonic() < deadline, "a spinning process was never seen running"
            time.sleep(0.01)
    finally:
        spinner.kill()
        spinner.wait()
