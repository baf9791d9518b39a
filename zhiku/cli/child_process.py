"""The start of another server process of ``zhiku start --processes N``, run as a script:
``python -P zhiku/cli/child_process.py ARGS`` imports the zhiku package this file belongs to (the first
process's own) from its folder and runs zhiku's command line with ARGS.

Not ``python -m zhiku``, which imports a ``zhiku`` package in the working directory first (a source
checkout of another version, say) and would serve the spread connections with other code; ``-P`` keeps
the working directory (and this script's folder) off the path for every other import too, as for the
``zhiku`` command."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def run() -> int:
    package = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("zhiku", package / "__init__.py",
                                                  submodule_search_locations=[str(package)])
    assert spec is not None and spec.loader is not None
    module = sys.modules["zhiku"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.argv[0] = "zhiku"
    from zhiku.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(run())
