"""How many of the dev sets' questions the KB-level question classifier (zhiku/chat/kb_questions.py)
takes for a question about the KB itself. Each one it takes would skip retrieval, so this count is
what the classifier could cost ordinary recall@5 (summaries never enter chunk search).

    .venv/bin/python bench/kb_questions.py [../shared/data/eval]
    .venv/bin/python bench/kb_questions.py --recall xquad_en   # recall@5 through the answer pipeline,
        before (no KB-level branch, no summaries) and after (the branch on, every file summarised)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from zhiku.chat.kb_questions import kb_question


def recall(name: str, limit: int = 300) -> None:
    """recall@5 of the passages the answer pipeline retrieves (its Retrieved event), before and after."""
    import tempfile

    from zhiku import Zhiku, load_settings
    from zhiku.evaluation import load_corpus, read_jsonl
    from zhiku.schema import AnswerRequest, Retrieved

    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval" / name
    corpus = read_jsonl(root / "corpus.jsonl", ("id", "text"))
    queries = [q for q in read_jsonl(root / "queries.jsonl", ("question",))[:limit] if q.get("gold_ids")]
    with tempfile.TemporaryDirectory() as tmp:
        overrides = {"embedding": {"default": "static"}, "llm": {"default": None, "detect_local": False}}
        with Zhiku(load_settings(home=Path(tmp) / "home", overrides=overrides, environ={})) as app:
            app.create_kb(name)
            (Path(tmp) / "docs").mkdir()
            load_corpus(app, name, corpus, Path(tmp) / "docs", None)

            def r5() -> float:
                found = 0
                for q in queries:
                    events = app.answer_stream(AnswerRequest(mode="kb", kbs=[name], question=q["question"],
                                                             extractive=True))
                    try:
                        hits = next(e for e in events if isinstance(e, Retrieved)).hits
                    finally:
                        events.close()  # type: ignore[attr-defined]
                    keys = list(dict.fromkeys(h.doc_key for h in hits))[:5]
                    found += any(k in set(q["gold_ids"]) for k in keys)
                return found / len(queries)

            branch = app.answers.kb_answers
            app.answers.kb_answers = None
            before = r5()
            app.answers.kb_answers = branch
            app.summaries.of_kb(name)  # every file summarised (extractive), stored with its vector
            after = r5()
            print(f"{name}: recall@5 through the pipeline, {len(queries)} questions, static embedder: "
                  f"before {before:.3f}, after {after:.3f} ({len(corpus)} passages summarised)")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--recall":
        return recall(sys.argv[2])
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data" / "eval"
    total = taken = 0
    for queries in sorted(root.glob("*/queries.jsonl")):
        n = hits = 0
        for line in queries.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            q = json.loads(line)
            text = q.get("question") or q.get("query") or q.get("text") or ""
            n += 1
            found = kb_question(text)
            if found is not None:
                hits += 1
                print(f"  {queries.parent.name}: {text!r} -> {found}")
        print(f"{queries.parent.name}: {hits} of {n} questions taken as KB-level")
        total, taken = total + n, taken + hits
    print(f"all: {taken} of {total}")


if __name__ == "__main__":
    main()
