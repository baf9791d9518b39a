"""The web UI is a client of the API: it imports ``zhiku.client``, the error tree its calls raise
(``zhiku.errors``) and the nouns they return (``zhiku.schema``), never the database, stores,
services or the app object."""

from __future__ import annotations

import ast
from pathlib import Path

import zhiku.ui

UI = Path(zhiku.ui.__file__).parent
ALLOWED = ("zhiku.client", "zhiku.errors", "zhiku.schema", "zhiku.ui")


def zhiku_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports stay inside zhiku.ui
                found.append((node.lineno, "zhiku.ui." + (node.module or "")))
            elif node.module:
                found.append((node.lineno, node.module))
                if node.module == "zhiku":
                    found += [(node.lineno, f"zhiku.{a.name}") for a in node.names]
    return [(line, name) for line, name in found if name == "zhiku" or name.startswith("zhiku.")]


def test_ui_imports_only_the_client() -> None:
    modules = sorted(UI.rglob("*.py"))
    assert len(modules) >= 8, modules
    wrong = [f"{path.relative_to(UI.parent)}:{line} imports {name}"
             for path in modules for line, name in zhiku_imports(path)
             if name == "zhiku" or not any(name == a or name.startswith(a + ".") for a in ALLOWED)]
    assert not wrong, ("the UI must talk to the API through zhiku.client only (it may also use zhiku.errors "
                       "and the nouns of zhiku.schema):\n" + "\n".join(wrong))


def test_the_check_sees_forbidden_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import zhiku.store.db\nfrom zhiku.app import Zhiku\nfrom zhiku import load_settings\n"
                   "from zhiku.client import ZhikuClient\nfrom zhiku.schema.chat import Message\n")
    assert [n for _, n in zhiku_imports(bad)] == [
        "zhiku.store.db", "zhiku.app", "zhiku", "zhiku.load_settings", "zhiku.client", "zhiku.schema.chat"]
