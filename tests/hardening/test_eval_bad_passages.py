"""`zhiku eval` reports the passages it could not ingest and measures on the rest (issue 17, item 5):
one unreadable passage in a set no longer aborts the whole evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zhiku import InvalidInput, Zhiku
from zhiku.evaluation import evaluate


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_unreadable_passages_are_counted_and_left_out(app: Zhiku, tmp_path: Path) -> None:
    corpus = _write(tmp_path / "corpus.jsonl", [
        {"id": "p-rust", "text": "Rust is a systems programming language focused on memory safety."},
        {"id": "p-fffd", "text": "\ufffd\ufffd龙井茶产自杭州西湖一带。"},  # text, not binary data
        {"id": "p-junk", "text": "\x00\x01\x02\x03" * 40},  # binary: cannot be ingested
    ])
    queries = _write(tmp_path / "queries.jsonl", [
        {"question": "Which language focuses on memory safety?", "gold_ids": ["p-rust"]},
        {"question": "龙井茶产自哪里？", "gold_ids": ["p-fffd"]},
    ])
    [result] = evaluate(app, corpus, queries, modes=["lexical"])
    assert result["passages_not_ingested"] == 1
    assert result["recall@1"] == 1.0


def test_a_set_with_no_readable_passage_is_an_error(app: Zhiku, tmp_path: Path) -> None:
    corpus = _write(tmp_path / "corpus.jsonl", [{"id": "p-junk", "text": "\x00\x01\x02\x03" * 40}])
    queries = _write(tmp_path / "queries.jsonl", [{"question": "q", "gold_ids": ["p-junk"]}])
    with pytest.raises(InvalidInput, match="none of the 1 passages could be ingested"):
        evaluate(app, corpus, queries, modes=["lexical"])
