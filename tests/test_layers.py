"""The layer table of docs/architecture.md is the rule for imports inside zhiku: every module
belongs to a row, and imports only its own row and the rows its "may import" cell names —
at module level, inside functions and under TYPE_CHECKING alike."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "zhiku"
DOC = REPO / "docs" / "architecture.md"
_NAME = re.compile(r"`(zhiku(?:\.[\w]+)*)`")


def layer_table(text: str) -> dict[str, set[str]]:
    """Row → the rows it may import, from the table between the ``layers`` markers."""
    body = text.split("<!-- layers -->", 1)[1].split("<!-- /layers -->", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[1].startswith("`"):
            continue
        row = _NAME.fullmatch(cells[1])
        assert row is not None, f"bad row name in {line!r}"
        assert row.group(1) not in rows, f"row {row.group(1)} appears twice"
        rows[row.group(1)] = set(_NAME.findall(cells[3]))
    return rows


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """Every zhiku module or name a module's source imports, anywhere in it (lineno, dotted name).
    ``from zhiku.x import y`` gives both ``zhiku.x`` and ``zhiku.x.y`` (y may be a module)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names if a.name != "*"]
    return [(n, name) for n, name in found if name == "zhiku" or name.startswith("zhiku.")]


def row_of(name: str, rows: dict[str, set[str]], modules: set[str]) -> str | None:
    """The row a module belongs to: the longest row name that is the module or a package above it.
    The bare ``zhiku`` row is the package's __init__ only."""
    if name == "zhiku":
        return "zhiku" if "zhiku" in rows else None
    best = None
    for row in rows:
        if row != "zhiku" and (name == row or name.startswith(row + ".")):
            best = row if best is None or len(row) > len(best) else best
    return best


def violations(rows: dict[str, set[str]], files: list[Path], root: Path = PACKAGE) -> list[str]:
    modules = {module_name(f, root) for f in files}
    wrong: list[str] = []
    for path in files:
        module = module_name(path, root)
        own = row_of(module, rows, modules)
        if own is None:
            wrong.append(f"{module}: no row of docs/architecture.md's table covers it: add one")
            continue
        for line, name in imports_of(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            # `from zhiku.x import name`: judge the module when `name` is one, else the package
            if name not in modules and name.rsplit(".", 1)[0] in modules and name != "zhiku":
                continue
            target = row_of(name, rows, modules)
            if target is None:
                wrong.append(f"{path.relative_to(root.parent)}:{line} imports {name}, which no row covers")
            elif target != own and target not in rows[own]:
                wrong.append(f"{path.relative_to(root.parent)}:{line} ({own}) imports {name} ({target})")
    return wrong


def test_every_import_follows_the_layer_table() -> None:
    rows = layer_table(DOC.read_text(encoding="utf-8"))
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 100
    wrong = violations(rows, files)
    assert not wrong, ("imports that break the layer table of docs/architecture.md (move the code, pass "
                       "the collaborator in through a constructor, or change the table with a reason):\n"
                       + "\n".join(wrong))


def test_the_table_has_no_cycles_and_names_only_its_rows() -> None:
    rows = layer_table(DOC.read_text(encoding="utf-8"))
    assert {"zhiku.text", "zhiku.store", "zhiku.app", "zhiku.client", "zhiku.api", "zhiku.ui"} <= set(rows)
    unknown = {m for allowed in rows.values() for m in allowed} - set(rows)
    assert not unknown, f"'may import' names rows that do not exist: {unknown}"
    assert rows["zhiku.text"] == set()
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(row: str, path: list[str]) -> None:
        if row in done:
            return
        assert row not in visiting, "the layer table has a cycle: " + " → ".join([*path, row])
        visiting.add(row)
        for nxt in rows[row]:
            visit(nxt, [*path, row])
        visiting.discard(row)
        done.add(row)

    for row in rows:
        visit(row, [])


def test_nothing_below_the_app_imports_it() -> None:
    rows = layer_table(DOC.read_text(encoding="utf-8"))
    below = ["zhiku.store", "zhiku.embed", "zhiku.llm", "zhiku.retrieval", "zhiku.ingest", "zhiku.chat",
             "zhiku.websearch", "zhiku.auth", "zhiku.client", "zhiku.text", "zhiku.schema", "zhiku.config"]
    assert not [r for r in below if "zhiku.app" in rows[r] or "zhiku.api" in rows[r]]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "zhiku"
    for rel, text in {
        "__init__.py": "",
        "text/__init__.py": "",
        "store/__init__.py": "",
        "store/db.py": "from zhiku.text import ids\n",
        "text/ids.py": "def f():\n    from ..store import db\n",
        "app.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from zhiku.store.db import x\n",
        "store/catalog.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from zhiku.app import Zhiku\n",
        "stray.py": "",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_the_check_sees_every_kind_of_forbidden_import(tree: Path) -> None:
    table = """<!-- layers -->
| layer | row | what | may import |
|---|---|---|---|
| f | `zhiku.text` | x | (nothing) |
| s | `zhiku.store` | x | `zhiku.text` |
| a | `zhiku.app` | x | `zhiku.store`, `zhiku.text` |
| p | `zhiku` | x | `zhiku.app` |
<!-- /layers -->"""
    rows = layer_table(table)
    found = violations(rows, sorted(tree.rglob("*.py")), tree)
    text = "\n".join(found)
    assert "zhiku/text/ids.py:2 (zhiku.text) imports zhiku.store" in text  # relative, inside a function
    assert "zhiku/store/catalog.py:3 (zhiku.store) imports zhiku.app" in text  # under TYPE_CHECKING
    assert "zhiku.stray: no row" in text
    assert not any("store/db.py" in w or "zhiku/app.py" in w for w in found)  # allowed ones pass
