"""How many CPU cores are idle right now, not counting a named group of this process's own threads.

An encoder that splits each layer over OpenMP threads is fastest with one thread per idle core and
much slower with one too many: its threads meet at a barrier after every matrix, and a thread
waiting for a busy core stalls the rest. Whether a core is busy is read from the kernel's count of
running tasks (/proc/loadavg). The encoder's own threads must not count against it: right after
one call its OpenMP workers still spin for a moment, and a count that included them would make
every back-to-back call run on one thread. They are recognised by their name: the thread that
calls the encoder names itself (``name_this_thread``) and the OpenMP workers it starts inherit the
name.

Elsewhere (Windows, macOS: no /proc, no prctl), or with ``ZHIKU_PORTABLE=1`` (how the tests run
it on Linux), every core counts as idle and threads keep their names: the encoder then uses
``default_threads()`` threads, as with an explicit thread count.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from pathlib import Path

PR_SET_NAME = 15  # prctl(2)
_PROC = Path("/proc")
_TASKS = _PROC / "self" / "task"
RECHECK_S = 0.0001


def procfs_usable(portable: bool | None = None) -> bool:
    """Whether Linux's /proc and prctl are there to use: not on Windows or macOS, nor with
    ``portable=True`` or ZHIKU_PORTABLE=1 (the portable path, forced)."""
    if portable is None:
        portable = os.environ.get("ZHIKU_PORTABLE", "").strip().lower() in ("1", "true", "yes")
    return not portable and sys.platform.startswith("linux") and (_PROC / "loadavg").is_file()


def name_this_thread(name: str, portable: bool | None = None) -> bool:
    """Give the calling OS thread a name (at most 15 bytes, seen in /proc and by ``top -H``);
    False where threads cannot be named so (not Linux)."""
    if not procfs_usable(portable):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: the count below falls back to all cores anyway
        return False


class IdleCores:
    """``count()``: cores with nothing running on them, this process's threads named ``own`` excluded."""

    def __init__(self, own: str, portable: bool | None = None) -> None:
        """``portable``: count every core as idle (what Windows and macOS do); None: as the system allows."""
        self.own = own.encode()[:15]
        self.cpus = os.cpu_count() or 1
        self.procfs = procfs_usable(portable)
        self._tasks: frozenset[str] = frozenset()
        self._own_tids: list[str] = []

    def count(self) -> int:
        """A caller that has just handed work to the encoder is still running for a few microseconds
        before it waits: a busy reading is looked at again, twice, 0.1 ms apart."""
        if not self.procfs:
            return self.cpus
        try:
            others = self._others_running()
            for _ in range(2):
                if others < 1:
                    break
                time.sleep(RECHECK_S)
                others = min(others, self._others_running())
        except (OSError, IndexError, ValueError):
            return self.cpus
        return max(1, min(self.cpus, self.cpus - others))

    def others(self) -> int:
        """Tasks running right now besides the calling thread and this process's threads named
        ``own`` (one reading, no second look): 0 where that cannot be read. For a caller deciding
        whether to run its own work beside the encoder (which then gets that many cores fewer)."""
        if not self.procfs:
            return 0
        try:
            return max(0, self._others_running() - 1)
        except (OSError, IndexError, ValueError):
            return 0

    def _others_running(self) -> int:
        with open(_PROC / "loadavg", "rb") as f:
            running = int(f.read().split()[3].split(b"/")[0])
        return running - sum(1 for state in self._own_states() if state == b"R")

    def _own_states(self) -> list[bytes]:
        tasks = frozenset(os.listdir(_TASKS))
        if tasks != self._tasks:  # threads came or went: find ours again by name
            self._tasks = tasks
            self._own_tids = [tid for tid in tasks if self._comm(tid) == self.own]
        states = []
        for tid in self._own_tids:
            try:
                with open(_TASKS / tid / "stat", "rb") as f:
                    states.append(f.read().rsplit(b")", 1)[1].split()[0])
            except (OSError, IndexError):
                continue
        return states

    @staticmethod
    def _comm(tid: str) -> bytes:
        try:
            with open(_TASKS / tid / "comm", "rb") as f:
                return f.read().strip()
        except OSError:
            return b""
