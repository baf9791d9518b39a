"""A readers-writer lock: many readers at once, or one writer.

The vector index needs it: FAISS lets any number of threads search one index at the same time, but
adding or removing vectors must happen alone. A plain lock made concurrent questions on a large KB
take turns for the scan. A writer that is waiting stops new readers from entering, so a steady
stream of searches cannot hold an ingestion off forever. Not re-entrant: a thread that holds the
lock must not take it again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ReadWriteLock:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._cond:
            while self._writing or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


@contextmanager
def folder_lock(directory: Path, exclusive: bool) -> Iterator[None]:
    """A lock that other processes see too: ``flock`` on ``directory/.lock`` (exclusive for a writer,
    shared for readers). Index files under a home that several processes open (a server and a
    `zhiku worker`) are written by one of them at a time. Where there is no ``fcntl`` (Windows) or no
    folder yet (nothing to read), it locks nothing."""
    try:
        import fcntl
    except ImportError:  # Windows: one process per home
        yield
        return
    if exclusive:
        directory.mkdir(parents=True, exist_ok=True)
    elif not directory.is_dir():
        yield
        return
    try:
        fh = open(directory / ".lock", "a+b")
    except FileNotFoundError:  # the folder went meanwhile (a migration's old copy): nothing to read
        if exclusive:
            raise
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
