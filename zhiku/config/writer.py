"""Edits of the settings file made from the web UI, the API and ``zhiku model``: the file is read
with its comments (ruamel.yaml round trip), changed, checked as a whole (the result must still load)
and written atomically (a temporary file beside it, then a rename): a crash leaves the old file or
the new one, never half of one."""

from __future__ import annotations

import io
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from zhiku.errors import ConfigError

_LOCK = threading.Lock()  # one edit at a time in this process


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML()  # round trip: comments, key order and quoting are kept
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def edit(path: Path, change: Callable[[Any], None], check: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Apply ``change`` to the file's document (a mapping, created empty when the file is absent) and
    write it back atomically; ``check`` gets the new settings as plain data before anything is
    written (raise ConfigError to refuse the edit; the file stays as it was)."""
    import yaml

    from ruamel.yaml import CommentedMap

    with _LOCK:
        y = _yaml()
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        try:
            doc = y.load(text) if text.strip() else None
        except Exception as exc:  # noqa: BLE001 - ruamel's parser and scanner errors
            raise ConfigError(f"{path}: not valid YAML, not edited: {exc}", file=str(path)) from None
        if doc is None:
            doc = CommentedMap()
        if not isinstance(doc, dict):
            raise ConfigError(f"{path}: the settings file must be a mapping of sections", file=str(path))
        change(doc)
        out = io.StringIO()
        y.dump(doc, out)
        new_text = out.getvalue()
        if check is not None:
            check(yaml.safe_load(new_text) or {})
        write_atomically(path, new_text)


def write_atomically(path: Path, text: str) -> None:
    """``text`` as the whole of ``path``: written to a temporary file in the same folder, flushed to
    disk, then renamed over the old file (its permission bits kept; new files are private: 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def section(doc: Any, *keys: str) -> Any:
    """The mapping at ``doc[keys[0]][keys[1]]...``, created where missing (or null)."""
    from ruamel.yaml import CommentedMap

    node = doc
    for key in keys:
        if not isinstance(node.get(key), dict):
            node[key] = CommentedMap()
        node = node[key]
    return node
