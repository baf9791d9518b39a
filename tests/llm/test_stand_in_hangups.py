"""The stand-in servers the tests and benchmarks run (``zhiku.testing.http``): a caller that hangs up
mid-reply is how a stand-in sees a stopped server's open connections go, so it prints no traceback
for it (a benchmark's log held one per connection); a handler that fails still prints its traceback."""

from __future__ import annotations

import socket
import struct
import threading
import time
import pytest

from zhiku.testing.http import BackgroundHTTPServer, StandInHandler


def _server(fail: bool, wrote: threading.Event) -> BackgroundHTTPServer:
    class Handler(StandInHandler):
        def do_GET(self) -> None:
            if fail:
                raise ValueError("a bug in the handler")
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for _ in range(2000):  # streams until the caller has gone
                self.wfile.write(b"data: piece\n\n" * 64)
                self.wfile.flush()
                wrote.set()
                time.sleep(0.001)

    return BackgroundHTTPServer(Handler)


def _hang_up_mid_reply(port: int, wrote: threading.Event) -> None:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    s.recv(1024)
    assert wrote.wait(10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset, as a killed peer does
    s.close()


def test_a_caller_hanging_up_mid_reply_prints_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    wrote = threading.Event()
    with _server(False, wrote) as server:
        _hang_up_mid_reply(server.port, wrote)
        time.sleep(0.5)  # the handler's next writes meet the reset
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err and "BrokenPipeError" not in err


def test_a_handler_that_fails_still_prints_its_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    with _server(True, threading.Event()) as server:
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        s.settimeout(5)
        try:
            s.recv(1024)  # the server closes the connection after the failure
        finally:
            s.close()
        time.sleep(0.3)
    err = capfd.readouterr().err
    assert "Traceback" in err and "ValueError: a bug in the handler" in err
