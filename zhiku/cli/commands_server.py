"""`zhiku start`: serve the web UI and the HTTP API (with offline docs) from this process."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import signal
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

import typer

from zhiku.cli import app, out, state
from zhiku.errors import ConfigError, Conflict

if TYPE_CHECKING:
    from zhiku.auth import AuthService

log = logging.getLogger(__name__)
KEEP_ALIVE_S = 30  # longer than clients keep idle connections (zhiku.client: 2 s; httpx: 5 s)


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    if not host:
        return False
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return bool(infos) and all(_is_loopback_address(i[4][0]) for i in infos)


def _is_loopback_address(address: str | int) -> bool:
    """An IPv4 or IPv6 socket address's host (an IPv6 one may carry a %zone); other families are not loopback."""
    return isinstance(address, str) and ipaddress.ip_address(address.split("%")[0]).is_loopback


def auth_refusal(auth: "AuthService", host: str) -> str | None:
    """Why the server must not start on ``host`` as authentication stands, or None when it may."""
    add = "create an admin first with `zhiku user add --admin NAME` (then every request needs an API key)"
    if not auth.has_users():
        if auth.settings.enabled:
            return f"auth.enabled is true but there are no users, so nobody could sign in: {add}"
        if not is_loopback(host):
            return f"refusing to listen on '{host}' without authentication: {add}, or listen on 127.0.0.1"
    if not is_loopback(host) and auth.settings.enabled is False:
        return (f"refusing to listen on '{host}' with authentication switched off (auth.enabled: false): "
                "remove that setting or listen on 127.0.0.1")
    return None


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts so that errors are one clear line."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on '{host}': {exc.strerror}", host=host) from None
    sock = socket.socket(family, kind, proto)
    if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: SO_REUSEADDR there would let two servers share a port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
    else:  # POSIX: restart at once on a port whose last connections are still closing
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise Conflict(f"cannot listen on {host}:{port}: {exc.strerror} (is another server running?)",
                       host=host, port=port) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def stop_signals(portable: bool | None = None) -> tuple[signal.Signals, ...]:
    """The signals that stop the server gracefully. POSIX: Ctrl-C (SIGINT) and SIGTERM (what
    service managers send). Windows, or ``portable`` (ZHIKU_PORTABLE=1 on Linux: the same path,
    forced): Ctrl-C and, where the system has it, Ctrl-Break (SIGBREAK); Windows never delivers a
    SIGTERM sent from another process."""
    if portable is None:
        portable = os.name == "nt" or os.environ.get("ZHIKU_PORTABLE", "").strip().lower() in ("1", "true", "yes")
    if not portable:
        return (signal.SIGINT, signal.SIGTERM)
    brk = getattr(signal, "SIGBREAK", None)
    return (signal.SIGINT,) if brk is None else (signal.SIGINT, brk)


def _server(config: Any, on_started: Callable[[], None] | None = None) -> Any:
    """A uvicorn server that stops gracefully on the ``stop_signals()`` and then returns normally
    (uvicorn re-raises the signal after its shutdown, which would skip closing the app);
    ``on_started`` runs once it serves requests."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if on_started is not None and not self.should_exit:
                on_started()

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in stop_signals()}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server(config)


class FirstRequest:
    """The server's app, noting when its first HTTP request has been answered (see ``_warm_up``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.answered = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.answered.is_set() or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.answered.set()


FIRST_REQUEST_WAIT_S = 0.25


def settle_heap() -> None:
    """After the warm-up: collect what start-up left, then keep what is loaded out of the garbage
    collector's full passes (``gc.freeze``). Indexes, jieba's dictionary and the imported modules are
    ~100k tracked objects that live as long as the server (at 100k chunks); a full pass over them
    took 0.24 s at load 10 and fell on whichever request came when it was due, often the first search."""
    import gc

    gc.collect()
    gc.freeze()


def _warm_up(zhiku: Any, url: str, first: FirstRequest | None = None) -> None:
    """The server's warm-up: what the first search needs. The web UI and the MCP tools are left to
    their first request (``zhiku.cli.lazy_mounts``): built here they kept ~45 MB resident at 100k
    chunks for a page or a tool call that may never come (Streamlit ~18 MB, the MCP SDK ~25 MB).

    It begins once the first request has been answered, or ``FIRST_REQUEST_WAIT_S`` after the
    server started: jieba's dictionary is one call that holds the interpreter for a few tenths of a
    second (more on a busy machine), and a health check sent the moment the server says it listens
    (a service manager's, a script's) waited for it (health at 1.0-1.7 s instead of ~0.9 on an idle
    machine). A search that comes first loads what it needs itself."""
    from zhiku.retrieval.warmup import warm_up_http

    if first is not None:
        first.answered.wait(FIRST_REQUEST_WAIT_S)
    t0 = time.perf_counter()
    spent = zhiku.warm_up()
    if spent:  # else no KB yet: nothing to load
        spent.update(warm_up_http(url, zhiku.list_kbs()))
        settle_heap()
        out.print(f"warmed up in {time.perf_counter() - t0:.1f} s: first searches answer at full speed",
                  markup=False)


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@app.command("start")
def start(
    ctx: typer.Context,
    host: Optional[str] = typer.Option(None, "--host", help="address to listen on (default server.host: 127.0.0.1)"),
    port: Optional[int] = typer.Option(None, "--port", help="port (default server.port: 7861; 0 picks a free one)"),
    ui: bool = typer.Option(True, "--ui/--no-ui", help="serve the web UI at / (the API stays at /api, /v1, /docs)"),
    processes: Optional[int] = typer.Option(
        None, "--processes", min=1, max=64,
        help="server processes sharing the port (default server.processes: 1): more serve more chats at once on "
             "more cores; each holds the indexes in memory"),
    handoff_fd: Optional[int] = typer.Option(None, "--handoff-fd", hidden=True),
    process_index: int = typer.Option(0, "--process-index", hidden=True),
) -> None:
    """Serve the web UI (at /) and the HTTP API (/api, the OpenAI-compatible /v1, docs at /docs) on one port until Ctrl-C."""
    settings = state(ctx).settings()
    host = settings.server.host if host is None else host
    port = settings.server.port if port is None else port
    count = settings.server.processes if processes is None else processes
    refusal = auth_refusal(state(ctx).app().auth, host)  # before anything listens
    if refusal is not None:
        raise ConfigError(refusal, host=host)
    if not 0 <= port <= 65535:
        raise ConfigError(f"invalid port {port}")
    if handoff_fd is not None:  # one of the other processes of `--processes N` (zhiku.cli.server_processes)
        _serve_handed(ctx, host, port, ui, handoff_fd, process_index)
        return
    from zhiku.cli import server_processes

    if count > 1 and (reason := server_processes.environment_ok()) is not None:
        raise ConfigError(reason, processes=count)
    sock = bind(host, port)
    zhiku = state(ctx).app()
    first = FirstRequest(_app(zhiku, ui, sock.getsockname()))
    front = None
    served: Any = first
    if count > 1:
        bound_host, bound_port = sock.getsockname()[:2]
        front = server_processes.Front(count, server_processes.child_argv(
            ctx.find_root().params, ctx.params, str(bound_host), int(bound_port)))
        served = server_processes.tag_process(first, 0)
    config = _config(served, settings.log_level)
    if front is not None:  # the front reads each connection's request line and spreads the API's over the processes
        config.load()
        config.http_protocol_class = server_processes.front_protocol(config.http_protocol_class, front)
    url = _url(sock)
    web = f"web UI: {url}/, " if ui else ""
    several = f", {count} processes" if count > 1 else ""

    def started() -> None:
        if front is not None:  # in the event loop: it reads the other processes' channels from now on
            import asyncio

            front.attach(asyncio.get_running_loop())
        out.print(f"zhiku is serving on {url}  ({web}API docs: {url}/docs{several}) — press Ctrl-C to stop",
                  markup=False)
        # indexes, jieba and the query models load (and the first search's path runs once) while the
        # server already answers; a question that comes first waits for what it needs (their locks)
        threading.Thread(target=_warm_up, args=(zhiku, url, first), name="zhiku-warm-up", daemon=True).start()

    try:
        if front is not None:
            front.start()  # they load beside the front; connections go to one once it says it serves
        _server(config, started).run(sockets=[sock])
    finally:
        sock.close()
        if front is not None:
            front.stop()
    out.print("zhiku stopped", markup=False)


def _app(zhiku: Any, ui: bool, address: tuple[Any, ...]) -> Any:
    """The API with its lazy faces: the MCP SDK and Streamlit load on their first request (a third of the
    start-up otherwise); ``address``: where the server listens (the UI reaches the API there)."""
    from zhiku.api import create_app
    from zhiku.cli.lazy_mounts import mount_lazy_mcp, mount_lazy_ui

    api = create_app(zhiku)
    mount_lazy_mcp(api, zhiku)  # the MCP tools at /mcp, before the UI's mount at / takes the rest
    if ui:
        from zhiku.ui.server import local_url

        mount_lazy_ui(api, local_url(address))
    return api


# How long a thread that computes (an ingestion parsing a 200 MB file) may keep the interpreter once
# the event loop waits for it. The loop gives the interpreter up at each socket call and database
# query, a dozen times a request, and waited up to Python's 5 ms each time to get it back: 50-70 ms
# added to every request while a large file was parsed.
SWITCH_INTERVAL_S = 0.001


def _config(app: Any, log_level: str) -> Any:
    import sys

    import uvicorn

    sys.setswitchinterval(SWITCH_INTERVAL_S)  # this process serves requests: they come first
    return uvicorn.Config(app, log_level=log_level.lower(), access_log=log_level == "INFO",
                          timeout_graceful_shutdown=5, timeout_keep_alive=KEEP_ALIVE_S)


def _serve_handed(ctx: typer.Context, host: str, port: int, ui: bool, channel_fd: int, index: int) -> None:
    """One of the other server processes: the whole app, serving the connections the front hands over."""
    from zhiku.cli import server_processes

    zhiku = state(ctx).app()
    config = _config(server_processes.tag_process(_app(zhiku, ui, (host, port)), index),
                     state(ctx).settings().log_level)

    def warm() -> None:
        if zhiku.warm_up():
            settle_heap()

    def started() -> None:
        threading.Thread(target=warm, name="zhiku-warm-up", daemon=True).start()

    server_processes.serve_handed(_server(config, started), channel_fd)
