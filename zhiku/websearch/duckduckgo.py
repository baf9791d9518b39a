"""DuckDuckGo through its no-JavaScript HTML page, ``POST https://html.duckduckgo.com/html/``.

No key and no extra dependency (the ``ddgs`` package scrapes the same page and adds
several dependencies). The page's result links go through ``/l/?uddg=<target>``
redirects; the target is read from them. Ads (``result--ad``) are skipped. The page's
layout is not an API: a page with no results and no "no results" notice is reported
as a failure rather than as an empty answer.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

from zhiku.websearch.base import EngineClient, SearchUnavailable, WebResult, check_query, clean, web_url

DEFAULT_URL = "https://html.duckduckgo.com"
REGIONS = {"zh": "cn-zh", "en": "us-en"}


class DuckDuckGo:
    name = "duckduckgo"

    def __init__(self, base_url: str | None = None, timeout_s: float = 10.0) -> None:
        self.client = EngineClient(self.name, base_url or DEFAULT_URL, timeout_s,
                                   {"Accept": "text/html", "Referer": (base_url or DEFAULT_URL) + "/"})

    def search(self, query: str, limit: int = 5, lang: str | None = None) -> list[WebResult]:
        query = check_query(query, limit)
        form = {"q": query, "kl": REGIONS.get(lang or "", "wt-wt"), "b": ""}
        response = self.client.request("POST", "/html/", data=form)
        return parse(response.text, limit, self.client.base_url)


def _target(href: str, base: str) -> str | None:
    href = urljoin(base + "/", href.strip())
    parts = urlsplit(href)
    if parts.path.rstrip("/").endswith("/l"):
        uddg = parse_qs(parts.query).get("uddg")
        return web_url(uddg[0]) if uddg else None
    return web_url(href)


def parse(html: str, limit: int, base: str = DEFAULT_URL) -> list[WebResult]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "lxml")
    out: list[WebResult] = []
    seen: set[str] = set()
    for div in soup.select("div.result"):
        classes = div.get_attribute_list("class")
        if "result--ad" in classes or "result--no-result" in classes:
            continue
        link = div.select_one("a.result__a")
        if link is None or not link.get("href"):
            continue
        url = _target(str(link["href"]), base)
        if url is None or url in seen:
            continue
        seen.add(url)
        snippet = div.select_one(".result__snippet")
        out.append(WebResult(title=clean(link.get_text(" ")) or url, url=url,
                             snippet=clean(snippet.get_text(" ")) if snippet else "", engine="duckduckgo"))
        if len(out) >= limit:
            break
    if not out and not soup.select(".no-results, .result--no-result") and "No results" not in html:
        if soup.select("form#challenge-form, .anomaly-modal") or "anomaly" in html[:20000]:
            raise SearchUnavailable("DuckDuckGo asked for a bot check; try again later or use another engine",
                                    engine="duckduckgo")
        raise SearchUnavailable("the DuckDuckGo page had no results in a layout zhiku can read",
                                engine="duckduckgo")
    return out
