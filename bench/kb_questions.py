"""How many of the dev sets' questions the KB-level question classifier (zhiku/chat/kb_questions.py)
takes for a question about the KB itself. Each one it takes would skip retrieval, so this count is
what the classifier could cost ordinary recall@5 (summaries never enter chunk search).

    .venv/bin/python bench/kb_questions.py [../shared/data/eval]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from zhiku.chat.kb_questions import kb_question


def main() -> None:
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
