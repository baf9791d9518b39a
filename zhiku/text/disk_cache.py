"""Where zhiku keeps what it derives from installed data files and can build again (the segmenter's
arrays from jieba's dictionary, the word bridge from CC-CEDICT): ``~/.cache/zhiku`` (or
``$XDG_CACHE_HOME/zhiku``), else a folder of the user's in the temporary folder.

Each cache file is named after what it was made from, so an upgrade writes a new one beside the old;
files that no process has read for ``STALE_DAYS`` are removed when a new one is written."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

STALE_DAYS = 30


def folders() -> list[Path]:
    """Where to look, in order (the first that can be written is written)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return [Path(base) / "zhiku", Path(tempfile.gettempdir()) / f"zhiku-{_user()}"]


def used(path: Path) -> None:
    """Mark a cache file as read now (it is not pruned while some process reads it)."""
    try:
        os.utime(path)
    except OSError:
        pass


def prune(folder: Path, pattern: str) -> None:
    """Remove the files of ``folder`` matching ``pattern`` that no process read for ``STALE_DAYS``."""
    for old in folder.glob(pattern):
        try:
            if time.time() - old.stat().st_mtime > STALE_DAYS * 86400:
                old.unlink()
        except OSError:
            continue


def store(name: str, pattern: str, write: Callable[[Path], object], what: str) -> None:
    """Write the cache file ``name`` (``write(path)`` fills it) into the first folder that takes it,
    whole or not at all: written aside, then moved into place. Files of that folder matching
    ``pattern`` that no process read for ``STALE_DAYS`` go first. Where no folder can be written,
    nothing is cached (logged: the caller builds again next time)."""
    for folder in folders():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            prune(folder, pattern)
            tmp = folder / f".{name}.{os.getpid()}.tmp"
            write(tmp)
            os.replace(tmp, folder / name)
            return
        except OSError as exc:
            logging.getLogger(__name__).info("could not cache %s in %s: %s", what, folder, exc)


def _user() -> str:
    try:
        return str(os.getuid())
    except AttributeError:  # Windows
        return os.environ.get("USERNAME", "user")
