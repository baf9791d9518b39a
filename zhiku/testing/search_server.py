"""A local stand-in for a search engine and the web behind it, on 127.0.0.1.

It speaks the SearXNG JSON API (``GET /search?q=..&format=json``; 403 with
``searxng_json=False``, as an instance without the json format does), answers in the
shapes of Bing Web Search v7 (``GET /v7.0/search``), Tavily (``POST /search``) and
DuckDuckGo's HTML page (``POST /html/``), and serves the result pages:

    /pages/NAME          a page of ``pages`` (content type, body)
    /redirect?to=URL     302 to URL (use it to point a "public" page at 127.0.0.1 or 169.254.169.254)
    /loop                302 to itself, forever
    /huge                5 MB of HTML
    /slow                one byte every 0.2 s, forever
    /stall               headers, then silence
    /binary              application/octet-stream
    /status/CODE         an empty answer with that status
    /echo-host           a page that says which Host header it was sent

Result URLs may contain ``{base}``, replaced by this server's ``http://127.0.0.1:PORT``.
Every request is recorded in ``requests`` (method, path, query, headers, body).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from zhiku.testing.http import BackgroundHTTPServer

TEA_EN = """<!doctype html><html><head><title>Longjing tea - Tea Encyclopedia</title>
<script>var tracking = "Longjing tea tracking script";</script><style>body {color: red}</style></head>
<body><nav>Home | Green teas | Black teas | Longjing tea shop</nav>
<header><p>Tea Encyclopedia - the site header</p></header>
<main><h1>Longjing tea</h1>
<p>Longjing tea, also called Dragon Well tea, is a pan-roasted green tea from the area around West Lake
in Hangzhou, Zhejiang Province, China. It is produced mostly by hand and is renowned for its high quality.</p>
<p>The tea is harvested in early spring. Leaves picked before the Qingming festival, around 5 April, are
called Mingqian Longjing and are the most prized and most expensive.</p>
<p>Brewing: use water at about 80 degrees Celsius rather than boiling water, and steep the leaves for two to
three minutes in a glass so that the leaves can be seen.</p></main>
<footer>Copyright Tea Encyclopedia. Contact us. Longjing tea shop opening hours.</footer></body></html>"""

TEA_ZH = """<html><head><meta charset="gb2312"><title>龙井茶</title></head><body>
<div class="nav">首页 > 绿茶</div><article><h1>龙井茶</h1>
<p>龙井茶是中国著名绿茶，产于浙江省杭州市西湖一带，已有一千二百余年历史。</p>
<p>龙井茶以"色绿、香郁、味甘、形美"四绝著称。明前茶是清明节前采摘的茶叶，最为名贵。</p>
<p>冲泡龙井茶宜用八十摄氏度左右的水，不宜用沸水。</p></article></body></html>"""

VOLCANO = """<html><head><title>Volcanoes</title></head><body><main><h1>Volcanoes</h1>
<p>A volcano is a rupture in the crust of a planet that allows hot lava, volcanic ash and gases to escape
from a magma chamber below the surface. Mount Etna in Sicily is one of the most active volcanoes in the world.</p>
</main></body></html>"""

PAGES: dict[str, tuple[str, bytes]] = {
    "tea": ("text/html; charset=utf-8", TEA_EN.encode()),
    "tea-zh": ("text/html", TEA_ZH.encode("gb18030")),
    "volcano": ("text/html; charset=utf-8", VOLCANO.encode()),
    "notes.txt": ("text/plain; charset=utf-8",
                  b"Plain notes.\n\nLongjing tea keeps best in an airtight tin in the fridge."),
}

RESULTS: list[dict[str, Any]] = [
    {"title": "Volcanoes", "url": "{base}/pages/volcano", "content": "A volcano is a rupture in the crust."},
    {"title": "Longjing tea - Tea Encyclopedia", "url": "{base}/pages/tea",
     "content": "Longjing tea is a pan-roasted green tea from Hangzhou."},
    {"title": "龙井茶", "url": "{base}/pages/tea-zh", "content": "龙井茶是中国著名绿茶，产于杭州西湖。"},
]

Results = list[dict[str, Any]] | Callable[[str], list[dict[str, Any]]]


class SearchServer(BackgroundHTTPServer):
    def __init__(self, results: Results | None = None, pages: dict[str, tuple[str, bytes]] | None = None,
                 ddg_html: str | None = None, searxng_json: bool = True, port: int = 0) -> None:
        self.searxng_json = searxng_json
        self.results = RESULTS if results is None else results
        self.pages = {**PAGES, **(pages or {})}
        self.ddg_html = ddg_html
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, ctype: str = "text/html; charset=utf-8",
                      headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _json(self, data: Any) -> None:
                self._send(200, json.dumps(data, ensure_ascii=False).encode(), "application/json")

            def _record(self, body: bytes = b"") -> tuple[str, dict[str, list[str]]]:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                outer.requests.append({"method": self.command, "path": parts.path, "query": query,
                                       "headers": dict(self.headers.items()), "body": body.decode("utf-8", "replace")})
                return parts.path, query

            def do_GET(self) -> None:
                path, query = self._record()
                if path == "/search":
                    if query.get("format") != ["json"] or not outer.searxng_json:
                        return self._send(403, b"Forbidden")
                    return self._json({"query": query.get("q", [""])[0], "number_of_results": 0,
                                       "results": outer.searxng_results(query.get("q", [""])[0]),
                                       "answers": [], "suggestions": [], "unresponsive_engines": []})
                if path == "/v7.0/search":
                    if not self.headers.get("Ocp-Apim-Subscription-Key"):
                        return self._send(401, b'{"error": {"code": "401", "message": "Access denied"}}',
                                          "application/json")
                    return self._json(outer.bing_answer(query.get("q", [""])[0]))
                self._page(path, query)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _ = self._record(body)
                if path == "/search":
                    data = json.loads(body or b"{}")
                    if not data.get("api_key") and not self.headers.get("Authorization"):
                        return self._send(401, b'{"detail": {"error": "Unauthorized"}}', "application/json")
                    return self._json(outer.tavily_answer(data.get("query", "")))
                if path == "/html/":
                    q = parse_qs(body.decode())["q"][0]
                    return self._send(200, (outer.ddg_html or outer.ddg_page(q)).encode())
                self._send(404, b"not found")

            def _page(self, path: str, query: dict[str, list[str]]) -> None:
                name = path[len("/pages/"):] if path.startswith("/pages/") else None
                if name is not None and name in outer.pages:
                    ctype, body = outer.pages[name]
                    return self._send(200, body, ctype)
                if path == "/redirect":
                    return self._send(302, b"", headers={"Location": query["to"][0]})
                if path == "/loop":
                    return self._send(302, b"", headers={"Location": "/loop"})
                if path == "/echo-host":
                    host = self.headers.get("Host", "")
                    return self._send(200, f"<html><body><p>You asked host {host} for this page.</p></body></html>"
                                      .encode())
                if path == "/binary":
                    return self._send(200, bytes(range(256)) * 4, "application/octet-stream")
                if path.startswith("/status/"):
                    return self._send(int(path.rsplit("/", 1)[1]), b"")
                if path in ("/huge", "/slow", "/stall"):
                    return self._stream(path)
                self._send(404, b"not found")

            def _stream(self, path: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    if path == "/huge":
                        line = b"<p>" + b"Longjing tea is green. " * 40 + b"</p>\n"
                        for _ in range(5 * 1024 * 1024 // len(line)):
                            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    elif path == "/slow":
                        while True:
                            self.wfile.write(b"1\r\nx\r\n")
                            self.wfile.flush()
                            time.sleep(0.2)
                    else:
                        self.wfile.flush()
                        time.sleep(30)
                except OSError:
                    pass  # the client gave up

        super().__init__(Handler, port)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _results(self, query: str) -> list[dict[str, Any]]:
        items = self.results(query) if callable(self.results) else self.results
        return [{**r, "url": str(r["url"]).replace("{base}", self.base)} for r in items]

    def searxng_results(self, query: str) -> list[dict[str, Any]]:
        return [{"title": r["title"], "url": r["url"], "content": r.get("content", ""), "engine": "google",
                 "engines": ["google", "bing"], "score": 1.0, "category": "general"} for r in self._results(query)]

    def bing_answer(self, query: str) -> dict[str, Any]:
        values = [{"id": f"https://api.bing.microsoft.com/api/v7/#WebPages.{i}", "name": r["title"], "url": r["url"],
                   "displayUrl": r["url"], "snippet": r.get("content", ""), "language": "en",
                   "isFamilyFriendly": True} for i, r in enumerate(self._results(query))]
        return {"_type": "SearchResponse", "queryContext": {"originalQuery": query},
                "webPages": {"webSearchUrl": "https://www.bing.com/search?q=x", "totalEstimatedMatches": len(values),
                             "value": values}}

    def tavily_answer(self, query: str) -> dict[str, Any]:
        return {"query": query, "answer": None, "images": [], "response_time": 0.5,
                "results": [{"title": r["title"], "url": r["url"], "content": r.get("content", ""), "score": 0.9,
                             "raw_content": None} for r in self._results(query)]}

    def ddg_page(self, query: str) -> str:
        from html import escape
        from urllib.parse import quote

        ad = ('<div class="result results_links results_links_deep result--ad"><div class="links_main">'
              '<h2 class="result__title"><a class="result__a" href="https://duckduckgo.com/y.js?ad_domain=ads.example">'
              'Buy tea now</a></h2><a class="result__snippet" href="#">An advert.</a></div></div>')
        items = [ad]
        for r in self._results(query):
            href = f"//duckduckgo.com/l/?uddg={quote(r['url'], safe='')}&amp;rut=abc123"
            items.append(
                '<div class="result results_links results_links_deep web-result "><div class="links_main links_deep '
                f'result__body"><h2 class="result__title"><a rel="nofollow" class="result__a" href="{href}">'
                f'{escape(r["title"])}</a></h2><div class="result__extras"><div class="result__extras__url">'
                f'<a class="result__url" href="{href}">{escape(r["url"])}</a></div></div>'
                f'<a class="result__snippet" href="{href}">{escape(r.get("content", ""))}</a></div></div>')
        if len(items) == 1:
            items.append('<div class="no-results">No results.</div>')
        return ("<!DOCTYPE html><html><head><title>" + escape(query) + " at DuckDuckGo</title></head><body>"
                '<div id="links" class="results">' + "".join(items) + "</div></body></html>")
