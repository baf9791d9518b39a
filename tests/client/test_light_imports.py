"""The client is light: ``import zhiku.client``, ``import zhiku`` and ``zhiku --help`` load none
of the server (SQLAlchemy, NumPy, FAISS, FastAPI, the app and its services).

Each import runs in a fresh interpreter, so what another test loaded cannot hide a regression;
and the client package's imports are read from its source (module level, inside functions and
under TYPE_CHECKING alike), so a heavy import that happens to run late is caught too."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import zhiku.client

ROOT = Path(zhiku.client.__file__).parents[2]
HEAVY_LIBRARIES = ("sqlalchemy", "numpy", "scipy", "faiss", "fastapi", "starlette", "jieba", "uvicorn", "alembic")
SERVER_PACKAGES = ("zhiku.app", "zhiku.api", "zhiku.store", "zhiku.ingest", "zhiku.chat", "zhiku.embed", "zhiku.llm",
                   "zhiku.retrieval", "zhiku.websearch", "zhiku.auth")
# what the client package may import of zhiku: itself, the error tree and the nouns
CLIENT_MAY_IMPORT = ("zhiku.client", "zhiku.errors", "zhiku.schema")
# third-party libraries the client (and the modules it imports) may use; the rest must be the standard library
CLIENT_LIBRARIES = ("httpx", "pydantic")


def heavy_modules(names: list[str]) -> list[str]:
    """The server's modules among ``names``."""
    return sorted(n for n in names if n.split(".")[0] in HEAVY_LIBRARIES
                  or any(n == p or n.startswith(p + ".") for p in SERVER_PACKAGES))


def loaded_after(code: str) -> list[str]:
    """The modules loaded (``sys.modules``) after running ``code`` in a fresh interpreter."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_import_zhiku_client_loads_none_of_the_server() -> None:
    loaded = loaded_after("import zhiku.client\nfrom zhiku.client import AsyncZhikuClient, ZhikuClient")
    assert "zhiku.client.http" in loaded
    assert heavy_modules(loaded) == []


def test_import_zhiku_is_lazy_until_the_app_is_touched() -> None:
    # the light public names resolve without the server...
    light = loaded_after("import zhiku\nzhiku.ZhikuClient, zhiku.Answer, zhiku.NotFound, zhiku.Citation")
    assert heavy_modules(light) == []
    # ...and zhiku.Zhiku brings it in, so the check above is not vacuous
    assert {"zhiku.app", "sqlalchemy"} <= set(loaded_after("import zhiku\nzhiku.Zhiku"))


def test_public_names_resolve_to_their_homes() -> None:
    from zhiku.app import Zhiku
    from zhiku.client import ZhikuClient
    from zhiku.errors import NotFound

    assert (zhiku.Zhiku, zhiku.ZhikuClient, zhiku.NotFound) == (Zhiku, ZhikuClient, NotFound)
    with pytest.raises(AttributeError):
        zhiku.no_such_name  # noqa: B018


def imported_by_cli(*args: str) -> tuple[str, list[str]]:
    """``python -X importtime -m zhiku ARGS``: its output and every module it imported."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "zhiku", *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = [line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:") and "|" in line]
    assert "zhiku.cli" in modules  # importtime did report the imports
    return done.stdout, modules


@pytest.mark.parametrize("args", [["--help"], ["kb", "--help"], ["user", "--help"], ["ask", "--help"]])
def test_cli_help_loads_none_of_the_server(args: list[str]) -> None:
    out, modules = imported_by_cli(*args)
    assert "Usage" in out
    assert heavy_modules(modules) == []


def zhiku_module_file(name: str) -> Path | None:
    """The source file of zhiku module ``name``, or None when ``name`` is not a module (a class, say)."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports_of(path: Path, package: str) -> list[tuple[int, str]]:
    """Every module ``path`` imports, anywhere in the file (``package``: the one it is in)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.append((node.lineno, base))
            # `from zhiku import errors` / `from zhiku.schema import jobs` import submodules
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names
                      if base.startswith("zhiku") and zhiku_module_file(f"{base}.{a.name}")]
    return found


def client_closure() -> tuple[list[str], list[str]]:
    """Walk the client package and every zhiku module it imports, transitively.

    Returns the zhiku modules reached and what is wrong (imports outside what the client may use)."""
    todo = [path for path in sorted((ROOT / "zhiku" / "client").rglob("*.py"))]
    seen: set[Path] = set()
    reached: list[str] = []
    wrong: list[str] = []
    stdlib = sys.stdlib_module_names
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        parts = path.relative_to(ROOT).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        reached.append(module)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for line, name in imports_of(path, package):
            top = name.split(".")[0]
            where = f"{path.relative_to(ROOT)}:{line} imports {name}"
            if top == "zhiku":
                if name != "zhiku" and any(name == a or name.startswith(a + ".") for a in CLIENT_MAY_IMPORT):
                    target = zhiku_module_file(name)
                    if target is not None:
                        todo.append(target)
                else:
                    wrong.append(where)
            elif top not in stdlib and top not in CLIENT_LIBRARIES and top != "__future__":
                wrong.append(where)
    return sorted(reached), wrong


def test_client_imports_only_itself_the_errors_and_the_schema() -> None:
    reached, wrong = client_closure()
    assert {"zhiku.client", "zhiku.client.http", "zhiku.client.routes", "zhiku.errors", "zhiku.schema"} <= set(reached)
    assert not wrong, "the client must import only zhiku.client.*, zhiku.errors and zhiku.schema:\n" + "\n".join(wrong)


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from typing import TYPE_CHECKING\nimport zhiku.store.db\nif TYPE_CHECKING:\n"
                   "    from zhiku.app import Zhiku\n"
                   "def f():\n    from zhiku import errors, load_settings\n    from . import routes\n")
    assert [n for _, n in imports_of(bad, "zhiku.client")] == [
        "typing", "zhiku.store.db", "zhiku.app", "zhiku", "zhiku.errors", "zhiku.client", "zhiku.client.routes"]
