"""No code-running input in zhiku's own code (issue 20, the permanent suite's last item): its predecessor
shipped pickled indexes and an unauthenticated shell tool. The scan reads every module of zhiku/ as a
syntax tree (so comments and strings that name these things do not count) and flags:

- ``eval``, ``exec``, ``compile`` and ``__import__`` called as builtins;
- importing ``pickle``, ``cPickle``, ``marshal``, ``shelve``, ``dill``, ``cloudpickle``, ``joblib``;
- ``yaml.load``/``load_all`` without a safe loader, ``yaml.unsafe_load``/``full_load``, ``yaml.Loader``;
- ``numpy.load(..., allow_pickle=True)``, ``pandas.read_pickle``, ``torch.load``;
- ``shell=True`` on any call, ``os.system``, ``os.popen``, ``os.exec*``/``os.spawn*``, ``pty.spawn``.

``ALLOWED`` lists the exceptions, each with its reason; an entry that no longer matches anything
fails too, so the list cannot go stale. The scanner is checked on code that has each of these.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "zhiku"

BUILTINS = {"eval", "exec", "compile", "__import__"}
MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
OS_CALLS = {"system", "popen", "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
            "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe"}
SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}

# (path relative to the repo, what is flagged) -> why it is acceptable. Empty today: keep it so.
ALLOWED: dict[tuple[str, str], str] = {}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def scan_source(source: str) -> list[tuple[int, str]]:
    """(line, what) of each unsafe construct in ``source``."""
    found: list[tuple[int, str]] = []
    tree = ast.parse(source)
    shadowed = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] in MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in MODULES:
            found.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [(node.lineno, f"from os import {a.name}") for a in node.names if a.name in OS_CALLS]
        elif isinstance(node, ast.ImportFrom) and node.module == "yaml":
            found += [(node.lineno, f"from yaml import {a.name}") for a in node.names
                      if a.name in {"load", "load_all", "unsafe_load", "full_load", "Loader", "UnsafeLoader"}]
        elif isinstance(node, ast.Attribute) and _dotted(node) in {"yaml.Loader", "yaml.UnsafeLoader",
                                                                   "yaml.FullLoader"}:
            found.append((node.lineno, _dotted(node)))
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if isinstance(node.func, ast.Name) and name in BUILTINS and name not in shadowed:
            found.append((node.lineno, f"{name}()"))
        elif name in {"builtins.eval", "builtins.exec", "builtins.compile", "builtins.__import__"}:
            found.append((node.lineno, f"{name}()"))
        if _true(_kw(node, "shell")):
            found.append((node.lineno, f"{name or 'call'}(shell=True)"))
        if name.startswith("os.") and name[3:] in OS_CALLS or name == "pty.spawn":
            found.append((node.lineno, f"{name}()"))
        if name in {"yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all", "yaml.full_load_all"}:
            found.append((node.lineno, f"{name}()"))
        elif name in {"yaml.load", "yaml.load_all"}:
            loader = _kw(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            if loader is None or _dotted(loader).rsplit(".", 1)[-1] not in SAFE_LOADERS:
                found.append((node.lineno, f"{name}() without a safe loader"))
        if name.rsplit(".", 1)[-1] == "load" and name.split(".")[0] in {"np", "numpy"} and _true(
                _kw(node, "allow_pickle")):
            found.append((node.lineno, f"{name}(allow_pickle=True)"))
        if name in {"pd.read_pickle", "pandas.read_pickle", "torch.load"}:
            found.append((node.lineno, f"{name}()"))
    return sorted(found)


def scan_package() -> dict[tuple[str, str], list[int]]:
    out: dict[tuple[str, str], list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for line, what in scan_source(path.read_text(encoding="utf-8")):
            out.setdefault((rel, what), []).append(line)
    return out


def test_zhiku_runs_no_code_from_input() -> None:
    found = scan_package()
    unexplained = {k: v for k, v in found.items() if k not in ALLOWED}
    assert not unexplained, "unsafe constructs (fix them, or add them to ALLOWED with the reason): " + "; ".join(
        f"{path}:{lines} {what}" for (path, what), lines in unexplained.items())
    stale = set(ALLOWED) - set(found)
    assert not stale, f"ALLOWED entries that match nothing any more (remove them): {sorted(stale)}"
    assert sum(1 for _ in PACKAGE.rglob("*.py")) > 100  # the scan read the package


BAD = '''
import pickle
import marshal as m
from shelve import open as shelf
from os import system
from yaml import load
import yaml, os, subprocess, numpy as np, pandas as pd, torch
eval("1")
exec("x = 1")
compile("1", "f", "eval")
__import__("os")
yaml.load(text)
yaml.load(text, Loader=yaml.Loader)
yaml.unsafe_load(text)
yaml.full_load(text)
os.system("ls")
os.popen("ls")
os.execv("/bin/sh", [])
subprocess.run("ls", shell=True)
subprocess.Popen(["ls"], shell=True)
np.load("x.npy", allow_pickle=True)
pd.read_pickle("x")
torch.load("x")
'''
GOOD = '''
import re, subprocess, yaml, numpy as np, ast
re.compile("x")
pattern.compile()
yaml.safe_load(text)
yaml.load(text, Loader=yaml.SafeLoader)
yaml.load(text, yaml.CSafeLoader)
subprocess.run(["ls"], shell=False)
np.load("x.npz", allow_pickle=False)
ast.literal_eval("1")
model.eval()
"""eval(x) pickle os.system in a docstring"""
# exec("x") in a comment
'''


def test_the_scanner_finds_each_construct_and_nothing_else() -> None:
    found = scan_source(BAD)
    assert len(found) == 22, found
    whats = " ".join(w for _, w in found)
    for word in ("import pickle", "import marshal", "from shelve", "from os import system", "from yaml import load",
                 "eval()", "exec()", "compile()", "__import__()", "yaml.load() without", "yaml.Loader",
                 "yaml.unsafe_load()", "yaml.full_load()", "os.system()", "os.popen()", "os.execv()",
                 "subprocess.run(shell=True)", "subprocess.Popen(shell=True)", "np.load(allow_pickle=True)",
                 "pd.read_pickle()", "torch.load()"):
        assert word in whats, word
    assert scan_source(GOOD) == []
