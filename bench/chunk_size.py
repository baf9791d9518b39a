"""Choose the default chunk size: hybrid retrieval and extractive answers on the dev sets
at several chunk sizes (overlap = 10% of the size). Writes docs/benchmarks/chunk_size.json.

    python bench/chunk_size.py --home /tmp/evalhome --sizes 300 500 800
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from zhiku import Zhiku, load_settings
from zhiku.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "data" / "eval"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "zhiku-bench-home"))
    ap.add_argument("--sizes", nargs="*", type=int, default=[300, 500, 800])
    ap.add_argument("--sets", nargs="*", default=["xquad_zh", "xquad_en", "drcd_dev"])
    args = ap.parse_args()
    rows = []
    for size in args.sizes:
        overrides = {"ingest": {"chunk_size": size, "chunk_overlap": size // 10}}
        with Zhiku(load_settings(home=args.home, overrides=overrides)) as app:
            for name in args.sets:
                (r,) = evaluate(app, EVAL / name / "corpus.jsonl", EVAL / name / "queries.jsonl", modes=["hybrid"])
                rows.append({"chunk_size": size, "set": name, **r})
                print(json.dumps(rows[-1]), flush=True)
    out = ROOT / "docs" / "benchmarks" / "chunk_size.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
