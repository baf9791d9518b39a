"""Pulls started from the web UI and the API: each one a background thread that downloads a GGUF
(``zhiku.llm.pull``), with its progress readable while it runs and a cancel. One pull of a file at
a time; a cancelled pull deletes what it had downloaded (a pull that failed keeps its ``.part`` so
the next one resumes). Nothing is ever left under the final name unless it is whole and checked."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zhiku.errors import Cancelled, Conflict, NotFound, ZhikuError
from zhiku.llm.pull import Target, pull_target, resolve

if TYPE_CHECKING:
    from zhiku.config import Settings

log = logging.getLogger(__name__)
KEEP_FINISHED = 20  # finished pulls remembered for their status


@dataclass
class PullTask:
    id: str
    what: str
    target: Target
    state: str = "running"  # running, cancelling, done, failed, cancelled
    done_bytes: int = 0
    total_bytes: int | None = None
    resumed_from: int = 0
    error: str | None = None
    sha256: str | None = None
    verified: bool = False
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    ended: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


class PullTasks:
    """The pulls of one app (the API keeps one per ``Zhiku``)."""

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        self._tasks: dict[str, PullTask] = {}
        self._lock = threading.Lock()

    def start(self, what: str, mirror: str | None = None, sha256: str | None = None,
              name: str | None = None) -> PullTask:
        """Check the request (bad input raises here, before anything downloads) and start the pull;
        Conflict when the same file is being pulled already."""
        target = resolve(self.settings, what, mirror, sha256, name)
        with self._lock:
            busy = [t for t in self._tasks.values() if not t.finished and t.target.file == target.file]
            if busy:
                raise Conflict(f"{target.file} is being pulled already (pull {busy[0].id}); wait for it or "
                               "cancel it", pull_id=busy[0].id)
            task = PullTask(uuid.uuid4().hex[:12], what, target)
            self._tasks[task.id] = task
            self._forget_old()
        threading.Thread(target=self._run, args=(task,), name=f"zhiku-pull-{task.id}", daemon=True).start()
        return task

    def get(self, task_id: str) -> PullTask:
        task = self._tasks.get(task_id)
        if task is None:
            raise NotFound(f"no pull '{task_id}' (finished pulls are remembered until the server restarts)",
                           pull_id=task_id)
        return task

    def list(self) -> list[PullTask]:
        with self._lock:
            return sorted(self._tasks.values(), key=lambda t: t.started_at)

    def cancel(self, task_id: str) -> PullTask:
        """Ask the pull to stop: it stops at the next block it receives (on a link that stalled, when
        the read times out: 30 s) and deletes its partial file. A pull that has finished is left as it is."""
        task = self.get(task_id)
        with self._lock:
            if not task.finished:
                task.state = "cancelling"
                task.cancel.set()
        return task

    def close(self, wait_s: float = 5.0) -> None:
        """Cancel every running pull (the server stops) and wait a little for them to end."""
        running = [t for t in self.list() if not t.finished]
        for task in running:
            task.cancel.set()
        for task in running:
            task.ended.wait(wait_s)

    def _progress(self, task: PullTask, done: int, total: int | None) -> None:
        task.done_bytes, task.total_bytes = done, total

    def _run(self, task: PullTask) -> None:
        from zhiku.llm.registry import models_dir

        part = models_dir(self.settings) / (task.target.file + ".part")
        try:
            result = pull_target(self.settings, task.target, lambda d, t: self._progress(task, d, t),
                                 task.cancel.is_set)
        except Cancelled:
            part.unlink(missing_ok=True)  # cancelled from the page: nothing of it is kept
            self._end(task, "cancelled", None)
        except ZhikuError as exc:
            if task.cancel.is_set():  # a link that stalled gave up after the cancel: it is a cancel
                part.unlink(missing_ok=True)
                self._end(task, "cancelled", None)
            else:
                self._end(task, "failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - a disk full, a permission: shown, not lost in a thread
            log.exception("pull %s failed", task.id)
            self._end(task, "failed", f"{type(exc).__name__}: {exc}")
        else:
            task.sha256, task.verified, task.resumed_from = result.sha256, result.verified, result.resumed_from
            task.done_bytes = result.path.stat().st_size
            task.total_bytes = task.done_bytes
            if task.cancel.is_set():  # cancelled as the last block came: it is whole and registered
                log.info("pull %s finished before its cancel took effect", task.id)
            self._end(task, "done", None)

    def _end(self, task: PullTask, state: str, error: str | None) -> None:
        with self._lock:
            task.state, task.error, task.finished_at = state, error, time.time()
        task.ended.set()

    def _forget_old(self) -> None:
        finished = sorted((t for t in self._tasks.values() if t.finished), key=lambda t: t.finished_at or 0)
        for task in finished[:-KEEP_FINISHED] if len(finished) > KEEP_FINISHED else []:
            self._tasks.pop(task.id, None)
