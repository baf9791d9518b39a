"""Path traversal, the permanent suite (issue 20): every payload of tests/hardening/traversal.py (over 40:
``../`` at every depth to a real file next to the data folder, ``..\\``, absolute paths, URL- and
double-encoded, NUL, overlong UTF-8, Unicode look-alikes, folder names, over-long names) goes in
every place a request names a knowledge base, a file, an id or a page — REST, Chatchat-compatible,
/v1, the docs' static files, and MCP's tools at /mcp — of `zhiku start`'s app on a real uvicorn.

Nothing is read outside the data folder (no answer holds the outside file's text or /etc/passwd's),
nothing is written outside it (the folder around it is the same before and after, the uploads that
were accepted as names included), no answer is a 5xx, and where the payload names the thing read
the answer is a 4xx (or Chatchat's envelope with its error code).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import anyio
import httpx
import pytest

from tests.hardening.traversal import LABEL, MUST_REFUSE, SECRET, leaked, payloads, refused, variants
from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
from zhiku.mcp.http import mount_mcp
from zhiku.testing.live_server import LiveServer

pytestmark = pytest.mark.slow
LEAVE = "# Leave\n\nEmployees get fifteen days of paid leave a year.\n"


class Site:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.outside = root / "outside"
        self.outside.mkdir(parents=True)
        self.secret = self.outside / "secret.md"
        self.secret.write_text(f"# Secret\n\n{SECRET}\n", encoding="utf-8")
        self.zk = Zhiku(load_settings(home=root / "home", environ={}, overrides={
            "embedding": {"default": "static"}, "llm": {"detect_local": False}}))
        self.zk.create_kb("kb")
        src = root / "leave.md"
        src.write_text(LEAVE, encoding="utf-8")
        self.zk.add_files("kb", [src])
        self.file_id = self.zk.list_files("kb")[0].id
        api = create_app(self.zk)
        mount_mcp(api, self.zk)
        self.server = LiveServer(api, bind("127.0.0.1", 0), KEEP_ALIVE_S)

    def around(self) -> dict[str, tuple[int, float]]:
        """Everything outside the data folder under the test's root: path -> (size, mtime)."""
        home = self.root / "home"
        return {str(p): (p.stat().st_size, p.stat().st_mtime) for p in self.root.rglob("*")
                if home not in p.parents and p != home}

    def close(self) -> None:
        self.server.stop()
        self.zk.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path / "root")
    yield s
    s.close()


def _settle(client: httpx.Client) -> None:
    deadline = time.monotonic() + 300
    while any(j["status"] in ("queued", "running") for j in client.get("/api/jobs", params={"limit": 200}).json()):
        assert time.monotonic() < deadline, "upload jobs did not finish"
        time.sleep(0.2)


async def _mcp_calls(url: str, attacks: list[str]) -> list[tuple[str, str, bool, str]]:
    """(tool, payload, is_error, text) of MCP tool calls with each payload as a KB, file or page."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    out = []
    async with httpx2.AsyncClient(timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=60) as client:
            for p in attacks:
                for tool, args in (("read_page", {"kb": "kb", "file": p, "page": 1}),
                                   ("read_page", {"kb": p, "file": "leave.md", "page": 1}),
                                   ("read_chunk", {"kb": p, "chunk_id": 1}),
                                   ("search", {"query": "leave", "kbs": [p]})):
                    try:
                        result = await client.call_tool(tool, args)
                    except Exception as exc:  # noqa: BLE001 - a protocol-level refusal is a refusal
                        out.append((tool, p, True, repr(exc)))
                        continue
                    text = " ".join(getattr(c, "text", "") for c in result.content)
                    out.append((tool, p, bool(result.is_error), text))
    return out


def test_no_payload_reads_or_writes_outside_the_data_folder(site: Site) -> None:
    attacks = payloads(site.secret)
    assert len(attacks) >= 40 and len(set(attacks)) == len(attacks)
    routes = variants(site.file_id)
    before = site.around()
    bad: list[tuple[str, str, int, str]] = []
    sent = 0

    def send(client: httpx.Client, expect: str) -> int:
        n = 0
        for v in (v for v in routes if v.expect == expect):
            for p in attacks:
                try:
                    r = v.send(client, p)
                except (httpx.InvalidURL, httpx.LocalProtocolError):  # the client would not send it
                    continue
                n += 1
                if r.status_code >= 500 or leaked(r.text) or (v.expect == MUST_REFUSE and not refused(r)):
                    bad.append((v.name, p[:60], r.status_code, r.text[:200]))
        return n

    # reads first, then MCP, then what keeps a payload as a name (a KB or file named like it exists after)
    with httpx.Client(base_url=site.server.url, timeout=60) as client:
        sent += send(client, MUST_REFUSE)
        mcp = anyio.run(_mcp_calls, site.server.url + "/mcp", attacks)
        sent += send(client, LABEL)
        _settle(client)
    bad += [(f"mcp {tool}", p[:60], 0, text[:200]) for tool, p, is_error, text in mcp
            if leaked(text) or (tool != "search" and not is_error)]
    # search over a KB that does not exist: refused (never a search of every KB)
    bad += [("mcp search", p[:60], 0, text[:200]) for tool, p, is_error, text in mcp
            if tool == "search" and not is_error]
    assert bad == [], "\n".join(map(repr, bad))
    assert sent >= 40 * 20 and len(mcp) == 4 * len(attacks)
    assert site.around() == before, "something outside the data folder changed"
    assert site.secret.read_text(encoding="utf-8").endswith(f"{SECRET}\n")
    # the KB is whole: its file is still there and readable
    assert [f.name for f in site.zk.list_files("kb") if f.name == "leave.md"] == ["leave.md"]


def test_the_variants_cover_every_kind_of_input(site: Site) -> None:
    names = " ".join(v.name for v in variants(site.file_id))
    for word in ("{kb}", "{file_id}", "page=", "chunk_id", "download_doc", "upload_docs", "/v1/", "docs-assets",
                 "knowledge_base_name", "search_temp_docs"):
        assert word in names, word
    assert sum(v.expect == LABEL for v in variants(site.file_id)) <= 5  # most must refuse outright


