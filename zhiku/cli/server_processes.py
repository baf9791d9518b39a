"""`zhiku start --processes N`: N server processes on one port, because Python runs one thread of a
process at a time.

A chat's search, refusal verdict, prompt and the relaying of its streamed answer are Python that holds
the interpreter lock; fifty chats at once in one process take turns for it, whatever the number of
cores (issue 18 item 3: ≈7–9 ms per chat before its first token, most of a burst's wait). Several
processes run those turns side by side.

The first process (the *front*) listens on the port, as ``zhiku start`` always did. For each new
connection it reads the first bytes — the request line — and either serves the connection itself or
hands it, the socket and the bytes read so far, to one of the other processes over a Unix socket pair
(``SCM_RIGHTS``); the process then serves that connection to its end (keep-alive included) as if it had
accepted it. Connections that begin with an API request (``API_PREFIXES``: /api/, /v1/ and Chatchat's
routes) are spread over all the processes in turn; every other connection stays in the front: the web
UI's pages and its session socket, whose file uploads must reach the process that holds the browser's
session (Streamlit keeps sessions in memory), the MCP endpoint (sessions too) and the docs.

Every process is a whole zhiku on the same home and database: ingestion jobs are claimed through the
database by whichever process is free (``zhiku.ingest.claims``), a KB's indexes are read by each process
and reloaded when another changed them (the revision check of ``IndexManager.get``), so a file added
through one process is found through the others. Each process holds its own copy of the indexes in
memory (memory × N). A process that dies is started again; until it is ready its connections are served
by the front. Stopping the front stops them all.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# first path segments of the API (zhiku's own, the OpenAI-compatible one, Chatchat's); a browser's page
# loads and the web UI's own requests never begin with them
API_PREFIXES = (b"/api/", b"/v1/", b"/knowledge_base/", b"/chat/", b"/tools", b"/server/", b"/other/")
FRONT_ONLY = (b"/api/settings/",)  # API routes whose state lives in one process (model pulls)
REQUEST_LINE_MAX = 8192  # bytes read before deciding; a request line longer than this stays in the front
READY = b"R"  # a process says over its socket pair that it serves
ADOPTED = b"A"  # ... and that it took a connection handed to it
MESSAGE_MAX = 1 << 20  # the first bytes of a connection handed over, at most (the socket's first read)
RESTART_DELAY_S = 1.0
STOP_WAIT_S = 10.0
HANDOFF_OPTION = "--handoff-fd"


def is_api_request(first: bytes) -> bool:
    """Whether a connection's first bytes are an API request line (``POST /v1/chat/completions HTTP/1.1``)
    to spread. The settings routes stay in the front: a model pull started there is a thread of the
    process that started it, and its progress is asked for on later requests."""
    parts = first.split(b" ", 2)
    return len(parts) >= 2 and parts[1].startswith(API_PREFIXES) and not parts[1].startswith(FRONT_ONLY)


class Peer:
    """One of the other server processes, seen from the front: its process and its end of the pair.

    Its channel is read in the front's event loop: READY once it serves, then ADOPTED for each
    connection it took. The front keeps its own copy of a handed connection until that answer comes;
    if the process dies first (the channel ends), the front serves the connection itself: nothing a
    process had not begun to read is lost with it."""

    def __init__(self, index: int, argv: list[str]) -> None:
        self.index, self.argv = index, argv
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: socket.socket | None = None
        self.ready = False
        self.started = 0.0
        self.delay = RESTART_DELAY_S
        self.restarts = 0
        self.pending: deque[Any] = deque()  # connections handed, not yet acknowledged (Dispatch objects)

    def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            # a session of its own: Ctrl-C in a terminal reaches the front, which stops the others in turn
            self.proc = subprocess.Popen([*self.argv, HANDOFF_OPTION, str(theirs.fileno()), "--process-index",
                                          str(self.index)], pass_fds=[theirs.fileno()], start_new_session=True)
            self.started = time.monotonic()
        finally:
            theirs.close()
        ours.setblocking(False)
        self.channel, self.ready = ours, False

    def send(self, conn: Any, first: bytes) -> bool:
        """Hand a connection over; False when this process cannot take it now (not ready, gone, busy)."""
        if not self.ready or self.channel is None:
            return False
        try:
            socket.send_fds(self.channel, [first], [conn.fileno()])
        except OSError:  # its queue is full (BlockingIOError), or it is gone: the front serves it
            return False
        return True

    def close(self) -> None:
        channel, self.channel, self.ready = self.channel, None, False
        if channel is not None:
            channel.close()


class Front:
    """The front process's side: the other processes, started, watched, restarted, stopped."""

    def __init__(self, count: int, argv: list[str]) -> None:
        self.peers = [Peer(i, argv) for i in range(1, count)]
        self.turn = 0
        self.stopping = threading.Event()
        self.all_ready = threading.Event()
        self.watcher: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        for peer in self.peers:
            peer.start()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """In the front's event loop, once it serves: read the channels; watch the processes."""
        self.loop = loop
        for peer in self.peers:
            self._listen(peer)
        self.watcher = threading.Thread(target=self._watch, name="zhiku-processes", daemon=True)
        self.watcher.start()

    def _listen(self, peer: Peer) -> None:
        if self.loop is not None and peer.channel is not None:
            self.loop.add_reader(peer.channel.fileno(), self._readable, peer, peer.channel)

    def _readable(self, peer: Peer, channel: socket.socket) -> None:
        while True:
            try:
                got = channel.recv(16)
            except BlockingIOError:
                return
            except OSError:
                got = b""
            if got == READY:
                peer.ready = True
                self._announce(peer)
            elif got == ADOPTED and peer.pending:
                peer.pending.popleft().handed()
            elif not got:  # the process is gone: what it had not taken, the front serves
                assert self.loop is not None
                self.loop.remove_reader(channel.fileno())
                if peer.channel is channel:
                    peer.close()
                while peer.pending:
                    peer.pending.popleft().serve_here()
                return

    def _watch(self) -> None:
        """Start again a process that exited while the front still serves."""
        while not self.stopping.wait(0.2):
            for peer in self.peers:
                if peer.proc is None or peer.proc.poll() is None:
                    continue
                log.warning("server process %d exited with %s: starting it again", peer.index, peer.proc.returncode)
                print(f"server process {peer.index} exited ({peer.proc.returncode}): starting it again",
                      file=sys.stderr, flush=True)
                # one that fails at once again and again is retried less and less often (at most every 30 s)
                peer.delay = min(30.0, peer.delay * 2) if time.monotonic() - peer.started < 10 else RESTART_DELAY_S
                peer.proc = None
                if self.stopping.wait(peer.delay):
                    return
                assert self.loop is not None
                try:
                    self.loop.call_soon_threadsafe(self._restart, peer)
                except RuntimeError:  # the loop is closed: the front is stopping
                    return

    def _restart(self, peer: Peer) -> None:
        if self.stopping.is_set():
            return
        if peer.channel is not None and self.loop is not None:
            self.loop.remove_reader(peer.channel.fileno())
        peer.close()
        while peer.pending:  # sent to the old one, never acknowledged
            peer.pending.popleft().serve_here()
        peer.restarts += 1
        peer.start()
        self._listen(peer)

    def _announce(self, peer: Peer) -> None:
        if peer.restarts:
            print(f"server process {peer.index} is serving again", file=sys.stderr, flush=True)
        elif self.ready_count() == len(self.peers) and not self.all_ready.is_set():
            self.all_ready.set()
            print(f"all {len(self.peers) + 1} server processes are serving", flush=True)

    def pick(self) -> Peer | None:
        """The next process in turn (None: the front itself)."""
        self.turn = (self.turn + 1) % (len(self.peers) + 1)
        return self.peers[self.turn - 1] if self.turn else None

    def ready_count(self) -> int:
        return sum(1 for p in self.peers if p.ready)

    def stop(self) -> None:
        """Stop every other process: its pair closes (it finishes what it serves), then SIGTERM, then kill."""
        self.stopping.set()
        if self.watcher is not None:
            self.watcher.join(2)
        for peer in self.peers:
            peer.close()
            if peer.proc is not None and peer.proc.poll() is None:
                peer.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        for peer in self.peers:
            if peer.proc is None:
                continue
            try:
                peer.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                peer.proc.kill()
                peer.proc.wait()


def front_protocol(inner: type, front: Front) -> type[asyncio.Protocol]:
    """uvicorn's ``http_protocol_class`` for the front: reads a connection's request line, then serves it
    with ``inner`` (uvicorn's HTTP protocol) or hands it to another process."""

    class Dispatch(asyncio.Protocol):
        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs
            self.transport: asyncio.Transport | None = None
            self.buffer = b""
            self.decided = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            end = self.buffer.find(b"\r\n")
            if end < 0 and len(self.buffer) < REQUEST_LINE_MAX:
                return  # the request line is still coming
            assert self.transport is not None
            self.decided = True
            if end >= 0 and is_api_request(self.buffer[:end]) and len(self.buffer) <= MESSAGE_MAX:
                peer = front.pick()
                sock = self.transport.get_extra_info("socket")
                if peer is not None and sock is not None:
                    self.transport.pause_reading()
                    if peer.send(sock, self.buffer):
                        peer.pending.append(self)  # ours is closed once the process says it has it
                        return
                    self.transport.resume_reading()
            self.serve_here()

        def handed(self) -> None:
            """The other process has the connection: close our copy of the socket (not the connection)."""
            if self.transport is not None:
                self.transport.abort()
                self.transport = None

        def serve_here(self) -> None:
            if self.transport is None or self.transport.is_closing():
                return
            protocol = inner(**self.kwargs)
            self.transport.set_protocol(protocol)
            protocol.connection_made(self.transport)
            self.transport.resume_reading()
            protocol.data_received(self.buffer)

        def eof_received(self) -> bool | None:
            if self.buffer and not self.decided and self.transport is not None:  # no line end: uvicorn answers
                self.decided = True
                self.serve_here()
            return None

        def connection_lost(self, exc: Exception | None) -> None:
            pass

    return Dispatch


def serve_handed(server: Any, channel_fd: int) -> None:
    """Run a uvicorn server (``zhiku start`` built it) on the connections the front hands over through
    ``channel_fd``, until the front closes its end or a stop signal comes."""
    config = server.config
    channel = socket.socket(fileno=channel_fd)
    channel.setblocking(False)

    class Handed(asyncio.Protocol):
        """The connection's first bytes, read by the front, are given to uvicorn's protocol first."""

        def __init__(self, first: bytes) -> None:
            self.first = first
            self.inner = config.http_protocol_class(config=config, server_state=server.server_state,
                                                    app_state=server.lifespan.state)

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transport.set_protocol(self.inner)
            self.inner.connection_made(transport)
            self.inner.data_received(self.first)

    class Server(type(server)):  # type: ignore[misc]
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=[])  # no listening socket of its own
            loop = asyncio.get_running_loop()

            def readable() -> None:
                while True:
                    try:
                        first, fds, _, _ = socket.recv_fds(channel, MESSAGE_MAX, 1)
                    except BlockingIOError:
                        return
                    except OSError:
                        first, fds = b"", []
                    if not fds:  # the front closed its end: it is stopping
                        if not first:
                            loop.remove_reader(channel.fileno())
                            self.should_exit = True
                        return
                    conn = socket.socket(fileno=fds[0])
                    conn.setblocking(False)
                    try:
                        channel.send(ADOPTED)  # before reading a byte of it: the front may close its copy
                    except OSError:
                        pass
                    loop.create_task(adopt(conn, first))

            async def adopt(conn: socket.socket, first: bytes) -> None:
                try:
                    await loop.connect_accepted_socket(lambda: Handed(first), conn)
                except OSError as exc:  # the client went away meanwhile
                    log.info("a handed-over connection closed before it was served: %s", exc)
                    conn.close()

            loop.add_reader(channel.fileno(), readable)
            channel.send(READY)

    server.__class__ = Server
    try:
        server.run()
    finally:
        channel.close()


def child_argv(root: dict[str, Any], start: dict[str, Any], host: str, port: int) -> list[str]:
    """The command line of another server process: this one's options (``--home``, ``--config``,
    ``--threads``, ``-v``, ``--no-ui``) and the address the front listens on, run by the same interpreter
    on the same zhiku package (``zhiku.cli.child_process``)."""
    argv = [sys.executable, "-P", str(Path(__file__).resolve().with_name("child_process.py"))]
    if root.get("home"):
        argv += ["--home", str(root["home"])]
    if root.get("config"):
        argv += ["--config", str(root["config"])]
    if root.get("embedder_threads") is not None:
        argv += ["--threads", str(root["embedder_threads"])]
    if root.get("verbose"):
        argv.append("-v")
    argv += ["start", "--host", host, "--port", str(port)]
    if not start.get("ui", True):
        argv.append("--no-ui")
    return argv


def tag_process(app: Any, index: int) -> Any:
    """The app, answering with ``x-zhiku-process: <index>`` (which of the N processes served a request:
    for an operator's logs and the tests)."""
    value = str(index).encode()

    async def tagged(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def tag(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-zhiku-process", value)]}
            await send(message)

        await app(scope, receive, tag)

    return tagged


def environment_ok() -> str | None:
    """Why several processes cannot run here (None when they can)."""
    reason = "several server processes need Unix sockets that pass sockets (Linux): start with --processes 1"
    if os.name != "posix" or not hasattr(socket, "send_fds") or not hasattr(socket, "SOCK_SEQPACKET"):
        return reason
    try:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except OSError:
        return reason
    a.close()
    b.close()
    return None
