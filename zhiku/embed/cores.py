"""How many CPU cores are idle right now, not counting a named group of this process's own threads.

An encoder that splits each layer over OpenMP threads is fastest with one thread per idle core and
much slower with one too many: its threads meet at a barrier after every matrix, and a thread
waiting for a busy core stalls the rest. Whether a core is busy is read from the kernel's count of
running tasks (/proc/loadavg). The encoder's own threads must not count against it: right after
one call its OpenMP workers still spin for a moment, and a count that included them would make
every back-to-back call run on one thread. They are recognised by their name: the thread that
calls the encoder names itself (``name_this_thread``) and the OpenMP workers it starts inherit the
name.

Passages are encoded in slices of a few, each long enough that one reading of an instant decides
badly: a moment's work elsewhere (a database backend finishing a write, the next file being parsed)
made a whole slice run on one core, and a `zhiku worker` encoded on one thread ~29% of the time. For
slices, the cores are judged by what the other tasks used over the last slice (/proc/stat, less this
process's named threads): a core kept busy less than ``SHARED_CORE_MAX_BUSY`` of the time is still
worth a thread of the encoder's, since two threads make twice the progress while the core is free and
lose less than that while it is not.

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
SHARED_CORE_MAX_BUSY = 0.6  # a core others used less than this share of the last slice still gets a thread
MIN_INTERVAL_S = 0.05  # a shorter interval since the last slice's reading says too little: the last estimate
MAX_INTERVAL_S = 5.0  # a longer one is not the last slice (another job, long ago): the instant's reading
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_renamed = 0  # threads named by name_this_thread so far (a thread's name is read once unless this moves)


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
    global _renamed
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        named = bool(libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0) == 0)
        _renamed += named  # every IdleCores reads the threads' names again
        return named
    except (OSError, AttributeError):  # not Linux: the count below falls back to all cores anyway
        return False


class IdleCores:
    """``count()``: cores with nothing running on them, this process's threads named ``own`` excluded."""

    def __init__(self, own: str, portable: bool | None = None) -> None:
        """``portable``: count every core as idle (what Windows and macOS do); None: as the system allows."""
        self.own = own.encode()[:15]
        self.cpus = os.cpu_count() or 1
        self.procfs = procfs_usable(portable)
        self._names: dict[str, bool] = {}  # thread id -> named ``own`` (each thread's name read once)
        self._renamed = -1  # name_this_thread's count when the names were read
        self._own_tids: list[str] = []
        self._last: tuple[int, int, int] | None = None  # /proc/stat total and idle, our threads' CPU (ticks)
        self._share: float | None = None  # cores' worth the others used over the last interval

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

    def for_slices(self) -> int:
        """Cores for the next slice of a long job: those the other tasks left over the last slice
        (see the module's docstring); the instant's reading for the first slice, or where the
        interval since the last one is too short to tell."""
        if not self.procfs:
            return self.cpus
        try:
            share = self.others_share()
        except (OSError, IndexError, ValueError):
            return self.cpus
        if share is None:
            return self.count()
        return max(1, min(self.cpus, self.cpus - int(share + 1 - SHARED_CORE_MAX_BUSY)))

    def others_share(self) -> float | None:
        """Cores' worth of CPU every task but this process's threads named ``own`` used since the
        last call (None at the first and after more than ``MAX_INTERVAL_S``; the last figure while
        less than ``MIN_INTERVAL_S`` passed)."""
        with open(_PROC / "stat", "rb") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
        total, idle = sum(ticks), ticks[3] + ticks[4]
        last = self._last
        if last is not None and total - last[0] < MIN_INTERVAL_S * _TICK * self.cpus:
            return self._share
        own = sum(cpu for _, cpu in self._own_stats())
        self._last = (total, idle, own)
        elapsed = total - last[0] if last is not None else 0
        if last is None or elapsed > MAX_INTERVAL_S * _TICK * self.cpus:
            return None
        busy = elapsed - (idle - last[1]) - (own - last[2])
        self._share = max(0.0, busy) * self.cpus / elapsed
        return self._share

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
        return [state for state, _ in self._own_stats()]

    def _own_stats(self) -> list[tuple[bytes, int]]:
        """Each of our named threads' scheduler state (R: running) and CPU so far (ticks)."""
        tasks = os.listdir(_TASKS)
        if self._renamed != _renamed:  # a thread named itself since: every name again
            self._names, self._renamed = {}, _renamed
        if len(tasks) != len(self._names) or any(tid not in self._names for tid in tasks):
            # threads came or went (a server starts one per answer): read the names of the new ones only
            self._names = {tid: self._names[tid] if tid in self._names else self._comm(tid) == self.own
                           for tid in tasks}
            self._own_tids = [tid for tid, ours in self._names.items() if ours]
        stats = []
        for tid in self._own_tids:
            try:
                with open(_TASKS / tid / "stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                stats.append((fields[0], int(fields[11]) + int(fields[12])))  # state; utime + stime
            except (OSError, IndexError, ValueError):
                continue
        return stats

    @staticmethod
    def _comm(tid: str) -> bytes:
        try:
            with open(_TASKS / tid / "comm", "rb") as f:
                return f.read().strip()
        except OSError:
            return b""
