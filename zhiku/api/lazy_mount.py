"""An ASGI app built on its first request, not at server start.

``zhiku start`` serves the web UI (Streamlit) and the MCP tools (the MCP SDK) beside the API.
Importing and setting up those two took about a third of the start-up (Streamlit ~0.3 s and the MCP
SDK ~0.8 s on an idle 2-core machine, 1.6 s and 4.2 s at load 9), and most servers answer API calls
long before anyone opens the UI. :class:`LazyASGI` holds a ``build()`` that returns the real app and
its lifespan; the first request builds it (in a worker thread: imports block) and waits, later ones
go straight through; :meth:`LazyASGI.build_soon` builds it without a request. ``zhiku start`` leaves
both to their first request: built at start they kept ~45 MB resident for a page or a tool call
that may never come. The lifespan (Streamlit's runtime, the MCP session manager's task group) runs
in a task of the server's own lifespan, so it is entered and left in one task and stopped with the
server, as if it had been chained in at start.
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

log = logging.getLogger(__name__)

Build = Callable[[], "tuple[Any, Callable[[Any], Any]]"]  # () -> (asgi app, lifespan(app) context manager)


class LazyASGI:
    """``build()`` on the first request; see the module. Chain :meth:`lifespan` into the server's."""

    def __init__(self, build: Build, name: str) -> None:
        self._build, self.name = build, name
        self._app: Any = None
        self._error: BaseException | None = None
        self._wanted: Any = None  # anyio events, made inside the running loop
        self._ready: Any = None
        self._stopping: Any = None
        self._soon = threading.Event()  # build without waiting for a request (set from any thread)
        self._done = threading.Event()  # built and started, or failed

    @property
    def built(self) -> bool:
        return self._app is not None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            if self._wanted is None:
                raise RuntimeError(f"{self.name}: the server's lifespan did not start it")
            self._wanted.set()
            await self._ready.wait()
            if self._error is not None:
                raise RuntimeError(f"{self.name} could not start: {self._error}") from self._error
        await self._app(scope, receive, send)

    def lifespan(self, outer: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``outer`` (the server's lifespan) with this app's own run inside it, started on demand."""
        import anyio

        @asynccontextmanager
        async def both(app: Any) -> AsyncIterator[Any]:
            self._wanted, self._ready, self._stopping = anyio.Event(), anyio.Event(), anyio.Event()
            async with outer(app) as state, anyio.create_task_group() as tasks:
                tasks.start_soon(self._run)
                try:
                    yield state
                finally:
                    self._stopping.set()
                    self._wanted.set()

        return both

    def build_soon(self) -> None:
        """Build it now, before a request asks (thread-safe): once start-up's own work is done, so
        the first page or tool call does not pay for it either."""
        self._soon.set()

    def wait_built(self, timeout: float) -> bool:
        """Block (another thread than the server's loop) until it is built and started, or failed."""
        return self._done.wait(timeout)

    async def _run(self) -> None:
        import anyio
        from anyio import to_thread

        while not self._soon.is_set():
            with anyio.move_on_after(0.2):
                await self._wanted.wait()
            if self._wanted.is_set():
                break
        if self._stopping.is_set():
            self._ready.set()
            return
        try:
            app, lifespan = await to_thread.run_sync(self._build)
            async with lifespan(app):
                self._app = app
                self._ready.set()
                self._done.set()
                log.info("%s started", self.name)
                await self._stopping.wait()
        except Exception as exc:  # noqa: BLE001 - every waiting request reports it
            log.error("%s could not start: %s", self.name, exc)
            self._error = exc
        finally:
            self._ready.set()
            self._done.set()
