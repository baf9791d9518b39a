"""`zhiku eval`: metrics on a set the test writes, and the real xquad_zh dev set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zhiku import InvalidInput, Zhiku
from zhiku.evaluation import KEYS, evaluate

SHARED_EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "eval"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    corpus = _write(tmp_path / "corpus.jsonl", [
        {"id": "p-apple", "title": "apple", "text": "Apples grow on trees in orchards and ripen in autumn."},
        {"id": "p-rust", "title": "rust", "text": "Rust is a systems programming language focused on memory safety."},
        {"id": "p-tea", "title": "茶", "text": "龙井茶产自杭州西湖一带，以色绿、香郁、味甘、形美著称。"},
    ])
    queries = _write(tmp_path / "queries.jsonl", [
        {"question": "Which language focuses on memory safety?", "answers": ["Rust"], "gold_ids": ["p-rust"]},
        {"question": "龙井茶产自哪里？", "answers": ["杭州西湖"], "gold_ids": ["p-tea"]},
        {"question": "When do apples ripen?", "answers": ["autumn"], "gold_ids": ["p-apple"]},
    ])
    return corpus, queries


def test_metrics_on_a_tiny_set(app: Zhiku, tiny: tuple[Path, Path]) -> None:
    results = evaluate(app, *tiny, modes=["lexical", "hybrid"])
    assert [r["mode"] for r in results] == ["lexical", "hybrid"]
    for r in results:
        assert set(r) == set(KEYS)
        assert r["recall@1"] == 1.0 and r["mrr@10"] == 1.0 and r["ndcg@10"] == pytest.approx(1.0)
        assert r["answer_hit"] == 1.0
        assert 0 < r["p50_ms"] <= r["p95_ms"]
    assert app.list_kbs() == [], "the throw-away KB is removed"


def test_cli_eval_json(cli, tiny: tuple[Path, Path]) -> None:  # type: ignore[no-untyped-def]
    r = cli("eval", "--corpus", str(tiny[0]), "--queries", str(tiny[1]), "--mode", "all", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert [d["mode"] for d in data] == ["hybrid", "dense", "lexical"]
    assert all(list(d) == list(KEYS) for d in data)


def test_bad_eval_files(app: Zhiku, tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\nnot json\n')
    with pytest.raises(InvalidInput, match="line 2: not JSON"):
        evaluate(app, tiny[0], bad)
    with pytest.raises(InvalidInput, match="no such file"):
        evaluate(app, tmp_path / "nope.jsonl", tiny[1])
    with pytest.raises(InvalidInput, match="unknown mode"):
        evaluate(app, *tiny, modes=["fuzzy"])


@pytest.mark.slow
@pytest.mark.shared
def test_eval_xquad_zh_with_the_default_embedder(e5_app: Zhiku) -> None:
    data = SHARED_EVAL / "xquad_zh"
    if not data.exists():
        pytest.skip(f"../shared not present ({data}): shared-data test skipped")
    results = {r["mode"]: r for r in evaluate(e5_app, data / "corpus.jsonl", data / "queries.jsonl",
                                              modes=["hybrid", "dense", "lexical"])}
    hybrid, dense, lexical = results["hybrid"], results["dense"], results["lexical"]
    # the prototype of DESIGN.md measured .937 lexical / .870 dense / .950 weighted fusion
    assert hybrid["recall@1"] >= max(dense["recall@1"], lexical["recall@1"]) - 0.01
    assert hybrid["recall@1"] >= 0.92 and hybrid["recall@10"] >= 0.98
    assert hybrid["answer_hit"] >= 0.80


def test_answer_modes() -> None:
    from zhiku.evaluation import _contains_answer

    assert _contains_answer("龍井茶產自杭州西湖", ["杭州西湖"])  # Traditional answer text, Simplified gold
    assert _contains_answer("Ｒｕｓｔ is safe", ["rust"])
    assert not _contains_answer("Rust only", ["Rust", "memory"], "all")
    assert _contains_answer("Rust guards memory", ["Rust", ["memory", "RAM"]], "all")


def test_label_questions_have_no_answer_hit(app: Zhiku, tiny: tuple[Path, Path], tmp_path: Path) -> None:
    labels = _write(tmp_path / "labels.jsonl", [
        {"question": "Is Rust memory safe?", "answers": ["yes"], "answer_mode": "label", "gold_ids": ["p-rust"]}])
    (result,) = evaluate(app, tiny[0], labels, modes=["lexical"])
    assert result["answer_hit"] is None and result["recall@1"] == 1.0


def test_unanswerable_questions_are_measured_as_refusals(app: Zhiku, tiny: tuple[Path, Path], tmp_path: Path) -> None:
    rows = [json.loads(line) for line in tiny[1].read_text(encoding="utf-8").splitlines()]
    queries = _write(tmp_path / "mixed.jsonl", rows + [
        {"question": "量子色动力学中的胶子禁闭机制是什么？", "unanswerable": True},
        {"question": "What is the recipe for Neapolitan pizza dough?", "unanswerable": True, "gold_ids": []},
    ])
    (result,) = evaluate(app, tiny[0], queries, modes=["hybrid"])
    assert result["refused"] == 1.0, "nothing in the corpus is about either"
    assert result["false_refusals"] == 0.0 and result["recall@1"] == 1.0 and result["answer_hit"] == 1.0
    (answerable_only,) = evaluate(app, *tiny, modes=["lexical"])
    assert answerable_only["refused"] is None and answerable_only["false_refusals"] == 0.0


def test_unanswerable_questions_must_say_so(app: Zhiku, tiny: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"question 1: missing gold_ids \(or \"unanswerable\": true\)"):
        evaluate(app, tiny[0], _write(tmp_path / "a.jsonl", [{"question": "Who?", "gold_ids": []}]))
    with pytest.raises(InvalidInput, match="question 1: an unanswerable question has no gold_ids"):
        evaluate(app, tiny[0], _write(tmp_path / "b.jsonl",
                                      [{"question": "Who?", "unanswerable": True, "gold_ids": ["p-rust"]}]))
