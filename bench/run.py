"""`make bench` (quick) and `make bench-full`: run the benchmarks, results into docs/benchmarks/."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="quick versions (default)")
    group.add_argument("--full", action="store_true", help="everything")
    args = ap.parse_args()
    extra = ["--full"] if args.full else []
    for script in ("quality.py",):
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *extra], check=True)


if __name__ == "__main__":
    main()
