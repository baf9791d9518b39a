"""Concurrency over a real uvicorn on 127.0.0.1 with four ingestion workers (issue 20's permanent list):

- 50 requests at once — uploads of new files, deletes of existing ones, searches — lose nothing and
  duplicate nothing: afterwards the KB holds exactly the files it should, each once and indexed, its
  chunk count is the sum of its files', ``kb check`` is clean, every new file is found by its own
  words and no deleted one is;
- the same file uploaded 20 times at once leaves one file; 20 versions of one name uploaded at once
  leave one file, and what is searchable is the version that is stored;
- two files of one name in one upload are both kept when their folders differ, and the second of the
  same path is failed with its reason (REST job, Chatchat's ``failed_files``), never dropped.

``ROUNDS`` and the sizes are module constants so scripts/reliability.py can run more rounds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest

from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
from zhiku.client import ZhikuClient
from zhiku.testing.live_server import LiveServer

pytestmark = pytest.mark.slow

SEED, NEW, DELETES, SEARCHES = 20, 20, 15, 15  # NEW + DELETES + SEARCHES = 50 requests at once
SAME = 20


def body(word: str, n: int = 3) -> bytes:
    """A small Markdown file whose only rare word is ``word``."""
    text = f"# Note {word}\n\n" + "\n\n".join(
        f"Paragraph {j}: the team keeps the {word} record in the shared folder for the audit." for j in range(n))
    return text.encode()


@dataclass
class Served:
    zk: Zhiku
    server: LiveServer
    client: ZhikuClient
    log: list[str] = field(default_factory=list)

    def markers(self, kb: str, word: str) -> set[str]:
        return {h.file for h in self.client.search(kb, word, top_k=50, mode="lexical") if word in h.text}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    zk = Zhiku(load_settings(home=tmp_path / "home", environ={}, overrides={
        "embedding": {"default": "static"}, "server": {"ingest_workers": 4}}))
    server = LiveServer(create_app(zk), bind("127.0.0.1", 0), KEEP_ALIVE_S)
    client = ZhikuClient(server.url, timeout=300)
    try:
        yield Served(zk, server, client)
    finally:
        client.close()
        server.stop()
        zk.close()


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls from as many threads, all started together; their results in order."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda c: c(), calls))


def mixed_round(s: Served, kb: str, round_no: int = 0) -> dict[str, int]:
    """One round of 50 concurrent uploads, deletes and searches; asserts the end state; returns counts."""
    c = s.client
    c.create_kb(kb)
    seed = [(f"seed/s{i:02d}.md", body(f"seedword{round_no}x{i:02d}")) for i in range(SEED)]
    job = c.wait_for_job(c.upload(kb, seed).id, timeout=600)
    assert job.status == "done" and job.files_failed == 0, job
    ids = {f.name: f.id for f in c.list_files(kb)}
    doomed = sorted(ids)[:DELETES]
    new = [(f"new/n{i:02d}.md", body(f"newword{round_no}x{i:02d}")) for i in range(NEW)]

    def upload(item: tuple[str, bytes]) -> Callable[[], Any]:
        return lambda: c.upload(kb, [item]).id

    def delete(name: str) -> Callable[[], Any]:
        return lambda: c.delete_file(kb, ids[name])

    def search(i: int) -> Callable[[], Any]:
        return lambda: c.search(kb, f"seedword{round_no}x{i:02d} record", top_k=5, mode="lexical")

    calls = [upload(item) for item in new] + [delete(n) for n in doomed] + [search(i) for i in range(SEARCHES)]
    results = at_once(calls)
    jobs = [c.wait_for_job(job_id, timeout=600) for job_id in results[:NEW]]
    assert all(j.status == "done" and j.files_failed == 0 for j in jobs), [j for j in jobs if j.files_failed]
    every = set(ids) | {name for name, _ in new}
    for found in results[NEW + DELETES:]:  # searches ran while files came and went: only real files
        assert {h.file for h in found} <= every

    files = c.list_files(kb)
    names = [f.name for f in files]
    expected = sorted((set(ids) - set(doomed)) | {name for name, _ in new})
    assert sorted(names) == expected, "lost or duplicated files"
    assert all(f.status == "indexed" and f.chunks > 0 for f in files)
    assert c.get_kb(kb).chunks == sum(f.chunks for f in files)
    check = c.check_kb(kb)
    assert check.consistent and not check.problems, check
    for name, data in new:
        word = data.split()[2].decode()
        assert s.markers(kb, word) == {name}, name
        assert c.download(kb, next(f.id for f in files if f.name == name)) == data
    for name in doomed:
        assert not s.markers(kb, f"seedword{round_no}x{name[6:8]}"), name
    return {"requests": len(calls), "uploads": NEW, "deletes": DELETES, "searches": SEARCHES,
            "files": len(files), "lost": len(set(expected) - set(names)), "duplicated": len(names) - len(set(names))}


def same_name_round(s: Served, kb: str, distinct: bool) -> dict[str, int]:
    """``SAME`` uploads of one name at once: identical bytes, or ``distinct`` versions. One file stays,
    and what search finds of it is the version stored."""
    c = s.client
    c.create_kb(kb)
    versions = [body("samecontent") if not distinct else body(f"version{i:02d}") for i in range(SAME)]
    job_ids = at_once([lambda v=v: c.upload(kb, [("report.md", v)]).id for v in versions])
    jobs = [c.wait_for_job(j, timeout=600) for j in job_ids]
    # none fails: an upload finding the same content being added by another makes its own record
    # (each resuming the other's failed one of them while both wrote one stored copy)
    assert all(j.status == "done" and j.files_failed == 0 for j in jobs), [j.files for j in jobs if j.files_failed]
    files = c.list_files(kb)
    assert [(f.name, f.status) for f in files] == [("report.md", "indexed")], files
    stored = c.download(kb, files[0].id)
    assert stored in versions
    assert c.get_kb(kb).chunks == files[0].chunks
    check = c.check_kb(kb)
    assert check.consistent and not check.problems, check
    searchable = {i for i in range(SAME) if distinct and s.markers(kb, f"version{i:02d}")}
    if distinct:
        assert searchable == {versions.index(stored)}, "a stale version is searchable"
    return {"uploads": SAME, "files": len(files), "stale_searchable": max(0, len(searchable) - 1)}


def test_fifty_concurrent_uploads_deletes_and_searches_lose_and_duplicate_nothing(served: Served) -> None:
    counts = mixed_round(served, "mixed")
    assert counts["requests"] == 50 and counts["files"] == SEED - DELETES + NEW


def test_the_same_file_uploaded_twenty_times_at_once_is_one_file(served: Served) -> None:
    assert same_name_round(served, "same", distinct=False)["files"] == 1


def test_twenty_versions_of_one_name_at_once_leave_one_and_search_serves_it(served: Served) -> None:
    assert same_name_round(served, "versions", distinct=True)["stale_searchable"] == 0


def test_two_files_of_one_name_in_one_upload_are_kept_or_refused_never_dropped(served: Served) -> None:
    c = served.client
    c.create_kb("names")
    job = c.wait_for_job(c.upload("names", [("a/X.md", body("alphaword")), ("b/X.md", body("betaword")),
                                            ("X.md", body("gammaword")), ("X.md", body("deltaword"))]).id)
    assert [(f.name, f.outcome) for f in job.files] == [
        ("a/X.md", "added"), ("b/X.md", "added"), ("X.md", "added"), ("X.md", "failed")]
    assert "also named 'X.md'" in (job.files[3].detail or "")
    assert sorted(f.name for f in c.list_files("names")) == ["X.md", "a/X.md", "b/X.md"]
    # the same through Chatchat's upload_docs over the same server
    with httpx.Client(base_url=served.server.url, timeout=120) as raw:
        r = raw.post("/knowledge_base/upload_docs", data={"knowledge_base_name": "names", "override": "false"},
                     files=[("files", ("c/Y.md", body("epsilonword"))), ("files", ("d/Y.md", body("zetaword"))),
                            ("files", ("Y.md", body("etaword"))), ("files", ("Y.md", body("thetaword")))])
    assert r.status_code == 200 and r.json()["code"] == 200, r.text
    failed = r.json()["data"]["failed_files"]
    assert list(failed) == ["Y.md"] and failed["Y.md"], failed
    assert sorted(f.name for f in c.list_files("names")) == ["X.md", "Y.md", "a/X.md", "b/X.md", "c/Y.md", "d/Y.md"]
    assert served.markers("names", "etaword") == {"Y.md"} and not served.markers("names", "thetaword")
