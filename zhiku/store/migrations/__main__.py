"""``python -m zhiku.store.migrations new "add files.language"``: draft the next migration.

``--empty`` writes a script with empty upgrade/downgrade (data migrations); without it the
script holds what zhiku/store/db.py has gained since the last migration. See docs/migrations.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from zhiku.store.migrations.authoring import new_revision
from zhiku.store.migrations.runner import VERSIONS_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zhiku.store.migrations",
                                     description="zhiku's schema migrations (docs/migrations.md)")
    sub = parser.add_subparsers(dest="command", required=True)
    new = sub.add_parser("new", help="write the next migration script")
    new.add_argument("message", help="what the migration does, e.g. 'add files.language'")
    new.add_argument("--empty", action="store_true", help="do not compare with zhiku/store/db.py")
    new.add_argument("--version-path", type=Path, default=VERSIONS_DIR,
                     help="where to write it (default: the package's versions/ folder)")
    args = parser.parse_args(argv)
    path = new_revision(args.message, autogenerate=not args.empty, version_path=args.version_path)
    print(f"wrote {path}: read it, finish it by hand, and add a test (docs/migrations.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
