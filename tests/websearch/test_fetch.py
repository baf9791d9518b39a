"""The guarded fetcher against a real local server: pinning, redirects re-checked, caps."""

from __future__ import annotations

import time

import pytest

from zhiku.testing.search_server import SearchServer
from zhiku.websearch.base import FetchFailed, FetchRefused
from zhiku.websearch.fetch import PageFetcher
from zhiku.websearch.guard import UrlGuard


def fetcher(max_bytes: int = 1 << 20, timeout_s: float = 5.0, max_redirects: int = 5,
            table: dict[str, list[str]] | None = None) -> PageFetcher:
    """Only the test server's own address is let through, as an admin's allow_networks would."""
    def resolve(host: str, port: int) -> list[str]:
        return (table or {})[host]

    guard = UrlGuard(allow_networks=["127.0.0.1/32"], resolver=resolve)
    return PageFetcher(guard, max_bytes, timeout_s, max_redirects)


def test_reads_html_and_text_pages(server: SearchServer) -> None:
    page = fetcher().fetch(f"{server.base}/pages/tea")
    assert page.is_html and "Dragon Well" in page.text and not page.truncated
    zh = fetcher().fetch(f"{server.base}/pages/tea-zh")  # declared gb2312 in a <meta>, not in the header
    assert "龙井茶是中国著名绿茶" in zh.text
    txt = fetcher().fetch(f"{server.base}/pages/notes.txt")
    assert txt.content_type == "text/plain" and "airtight tin" in txt.text


def test_connects_to_the_checked_address_sending_the_original_host(server: SearchServer) -> None:
    f = fetcher(table={"tea.example": ["127.0.0.1"]})
    page = f.fetch(f"http://tea.example:{server.port}/echo-host")
    assert f"You asked host tea.example:{server.port}" in page.text
    assert server.requests[-1]["headers"]["Host"] == f"tea.example:{server.port}"


def test_the_server_itself_is_refused_without_an_allowance(server: SearchServer) -> None:
    with pytest.raises(FetchRefused, match="loopback"):
        PageFetcher(UrlGuard()).fetch(f"{server.base}/pages/tea")
    assert not server.requests  # refused before connecting


def test_redirects_followed_and_each_hop_rechecked(server: SearchServer) -> None:
    page = fetcher().fetch(f"{server.base}/redirect?to=/pages/volcano")
    assert "Mount Etna" in page.text and page.redirects == 1 and page.final_url.endswith("/pages/volcano")
    for to in (f"http://127.0.0.2:{server.port}/pages/tea", "http://169.254.169.254/latest/meta-data/",
               "http://10.0.0.1/", f"http://[::1]:{server.port}/", "http://2130706434/", "http://metadata.google.internal/"):
        before = len(server.requests)
        with pytest.raises(FetchRefused):
            fetcher().fetch(f"{server.base}/redirect?to={to}")
        assert len(server.requests) == before + 1  # only the redirecting page was asked
    with pytest.raises(FetchRefused, match="http and https"):
        fetcher().fetch(f"{server.base}/redirect?to=file:///etc/passwd")
    with pytest.raises(FetchRefused, match="10.9.9.9"):  # a name resolving to a private address after a redirect
        fetcher(table={"evil.example": ["10.9.9.9"]}).fetch(f"{server.base}/redirect?to=http://evil.example/")


def test_redirect_limit(server: SearchServer) -> None:
    with pytest.raises(FetchFailed, match="more than 3 redirects"):
        fetcher(max_redirects=3).fetch(f"{server.base}/loop")
    assert len(server.requests) == 4


def test_size_cap_cuts_the_page(server: SearchServer) -> None:
    page = fetcher(max_bytes=64 * 1024).fetch(f"{server.base}/huge")
    assert page.truncated and len(page.text.encode()) <= 64 * 1024 and "Longjing tea is green." in page.text


def test_time_cap_stops_trickling_and_silent_pages(server: SearchServer) -> None:
    with pytest.raises(FetchFailed, match="longer than 1 s"):
        fetcher(timeout_s=1.0).fetch(f"{server.base}/slow")
    with pytest.raises(FetchFailed, match="longer than 1 s"):
        fetcher(timeout_s=1.0).fetch(f"{server.base}/stall")
    with pytest.raises(FetchFailed, match="longer than"):  # a caller's earlier deadline wins
        fetcher(timeout_s=30).fetch(f"{server.base}/stall", deadline=time.monotonic() + 0.5)


def test_non_pages_and_errors_fail_with_the_reason(server: SearchServer) -> None:
    with pytest.raises(FetchFailed, match="application/octet-stream is not a page"):
        fetcher().fetch(f"{server.base}/binary")
    with pytest.raises(FetchFailed, match="HTTP 404"):
        fetcher().fetch(f"{server.base}/pages/missing")
    with pytest.raises(FetchFailed, match="HTTP 500"):
        fetcher().fetch(f"{server.base}/status/500")
    with SearchServer() as gone:
        port = gone.port
    with pytest.raises(FetchFailed, match="cannot be fetched"):
        fetcher().fetch(f"http://127.0.0.1:{port}/")
