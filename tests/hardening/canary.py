"""The SSRF canary: an HTTP server on a loopback address that counts every request it gets (whatever
the method, path or Host), and the table of URLs that spell its address — or another internal one —
in every way an attacker would. Used by tests/hardening/test_ssrf_canary.py and scripts/reliability.py.

A second server, on 127.0.0.2 and the canary's port, stands in for a public web site (the tests allow
that one address with ``websearch.allow_networks``): it serves a page and redirects to any URL asked
(``/redirect?to=URL&code=302``). Linux routes all of 127.0.0.0/8 to loopback, so both listen locally.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, quote, urlsplit

PUBLIC_HOST = "127.0.0.2"  # the stand-in public site (allowed); the canary is 127.0.0.1
PAGE = b"<html><head><title>Public page</title></head><body><p>A public page about tea.</p></body></html>"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class HttpStub:
    """A threaded HTTP server on ``host:port`` (port 0: a free one); ``hits`` lists (method, path, Host)."""

    def __init__(self, host: str, port: int = 0, public: bool = False) -> None:
        self.hits: list[tuple[str, str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                outer.hits.append((self.command, self.path, self.headers.get("Host", "")))
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                if public and parts.path == "/redirect":
                    code = int(query.get("code", ["302"])[0])
                    self.send_response(code)
                    self.send_header("Location", query["to"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = PAGE if public else b"<html><body><p>CANARY secret internal page</p></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _answer

        self.server = _Server((host, port), Handler)
        self.host, self.port = host, self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class Resolver:
    """The guard's resolver hook: a fixed table of names, and ``rebind.test`` answering the public
    stand-in first and the canary's address after (a DNS answer that changes between checks)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.table = {
            "intranet.test": ["10.0.0.5"], "router.test": ["192.168.1.1"], "meta.test": ["169.254.169.254"],
            "v6-loop.test": ["::1"], "mapped.test": ["::ffff:127.0.0.1"], "linklocal.test": ["fe80::1%eth0"],
            "mixed.test": [PUBLIC_HOST, "127.0.0.1"],  # one good, one internal address: refused
            "public.test": [PUBLIC_HOST], "canary.test": ["127.0.0.1"], "zero.test": ["0.0.0.0"],
        }

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        if host == "rebind.test":
            return [PUBLIC_HOST] if self.calls.count(host) == 1 else ["127.0.0.1"]
        return self.table.get(host, [])


def spellings(port: int) -> list[tuple[str, str]]:
    """(kind, URL) of the canary's address and other internal ones, in every spelling."""
    p = port
    direct = [
        ("loopback", f"http://127.0.0.1:{p}/"), ("loopback", f"https://127.0.0.1:{p}/"),
        ("loopback", f"http://127.0.0.1:{p}/admin?x=1#frag"), ("loopback", f"http://127.1:{p}/"),
        ("loopback", f"http://127.0.1.3:{p}/"), ("loopback", f"http://localhost:{p}/"),
        ("loopback", f"http://LOCALHOST:{p}/"), ("loopback", f"http://localhost.:{p}/"),
        ("loopback", f"http://user:pw@127.0.0.1:{p}/"), ("loopback", f"http://{PUBLIC_HOST}@127.0.0.1:{p}/"),
        ("loopback", f"http://0.0.0.0:{p}/"), ("loopback", f"http://0:{p}/"),
        ("decimal", f"http://2130706433:{p}/"), ("octal", f"http://0177.0.0.1:{p}/"),
        ("octal", f"http://017700000001:{p}/"), ("octal", f"http://0177.0.0.01:{p}/"),
        ("hex", f"http://0x7f.0.0.1:{p}/"), ("hex", f"http://0x7f000001:{p}/"), ("hex", f"http://0x7f.1:{p}/"),
        ("hex", f"http://0X7F.0X0.0X0.0X1:{p}/"), ("mixed", f"http://0x7f.0.0.0001:{p}/"),
        ("ipv6", f"http://[::1]:{p}/"), ("ipv6", f"http://[0:0:0:0:0:0:0:1]:{p}/"),
        ("ipv6", f"http://[::ffff:127.0.0.1]:{p}/"), ("ipv6", f"http://[::ffff:7f00:1]:{p}/"),
        ("ipv6", f"http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/"), ("ipv6", f"http://[::127.0.0.1]:{p}/"),
        ("ipv6", f"http://[64:ff9b::7f00:1]:{p}/"), ("ipv6", f"http://[2002:7f00:1::]:{p}/"),
        ("ipv6", f"http://[::]:{p}/"),
        ("private", "http://10.0.0.1/"), ("private", "http://172.16.0.1/"), ("private", "http://192.168.0.1/"),
        ("private", "http://100.64.0.1/"), ("private", "http://[fc00::1]/"), ("private", "http://[fec0::1]/"),
        ("private", "http://0xa.0.0.1/"), ("private", "http://3232235521/"),  # 10.0.0.1, 192.168.0.1
        ("link-local", "http://169.254.1.1/"), ("link-local", "http://[fe80::1]/"),
        ("metadata", "http://169.254.169.254/latest/meta-data/"), ("metadata", "http://2852039166/"),
        ("metadata", "http://0251.0376.0251.0376/"), ("metadata", "http://0xa9fea9fe/"),
        ("metadata", "http://[::ffff:169.254.169.254]/"), ("metadata", "http://[fd00:ec2::254]/"),
        ("metadata", "http://metadata.google.internal/computeMetadata/v1/"), ("metadata", "http://100.100.100.200/"),
        ("scheme", "file:///etc/passwd"), ("scheme", f"gopher://127.0.0.1:{p}/_GET"),
        ("scheme", f"ftp://127.0.0.1:{p}/"),
    ]
    named = [  # through the resolver hook
        ("dns", f"http://intranet.test:{p}/"), ("dns", f"http://router.test:{p}/"), ("dns", "http://meta.test/"),
        ("dns", f"http://v6-loop.test:{p}/"), ("dns", f"http://mapped.test:{p}/"),
        ("dns", f"http://linklocal.test:{p}/"), ("dns", f"http://mixed.test:{p}/"), ("dns", f"http://canary.test:{p}/"),
        ("dns", f"http://zero.test:{p}/"),
    ]
    public = f"http://{PUBLIC_HOST}:{p}/redirect"
    redirects = [("redirect", f"{public}?code={code}&to={quote(url, safe='')}")
                 for code, (_, url) in zip([301, 302, 303, 307, 308] * 20, direct[:30] + named)]
    redirects += [
        ("redirect", f"{public}?to={quote(f'//127.0.0.1:{p}/', safe='')}"),  # scheme-relative
        ("redirect", f"{public}?to={quote(f'http://{PUBLIC_HOST}:{p}/redirect?to=http://[::1]:{p}/', safe='')}"),
        ("redirect", f"{public}?to={quote(f'http://public.test:{p}/redirect?to=http://canary.test:{p}/', safe='')}"),
    ]
    rebind = [("dns-rebinding", f"http://rebind.test:{p}/redirect?to={quote(f'http://rebind.test:{p}/again', safe='')}")]
    return direct + named + redirects + rebind
