"""Knowledge bases that follow folders (zhiku.ingest.sync): real folders changed on disk, the real
pipeline and database; the watcher and the API through a real server on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from zhiku import Zhiku
from zhiku.api import create_app
from zhiku.config import load_settings
from zhiku.errors import Conflict, InvalidInput, NotFound
from zhiku.cli.commands_server import bind
from zhiku.testing.live_server import LiveServer

LEAVE = "# Leave\n\nEvery employee has 20 days of annual leave, taken in half days at least.\n"
TRAVEL = "# Travel\n\nTrain tickets in second class are reimbursed within 30 days.\n"
PARKING = "Parking spaces in the north garage are free for cyclists on Fridays.\n"


def wait_until(check: Callable[[], bool], what: str, limit_s: float = 60.0) -> None:
    """Poll ``check`` until it holds (a limit against hanging, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "handbook"
    (root / "hr").mkdir(parents=True)
    (root / "hr" / "leave.md").write_text(LEAVE, encoding="utf-8")
    (root / "travel.md").write_text(TRAVEL, encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")  # hidden: never ingested
    return root


def names(app: Zhiku, kb: str = "hb") -> dict[str, str]:
    return {f.name: f.status for f in app.list_files(kb)}


def test_a_sync_makes_the_kb_match_the_folder(app: Zhiku, folder: Path) -> None:
    app.create_kb("hb")
    source, new = app.sources.add("hb", folder)
    assert new and source.prefix == "handbook" and not source.watch
    first = app.sources.sync("hb", "handbook")
    assert (first.added, first.failed, first.unchanged) == (2, 0, 0)
    assert names(app) == {"handbook/hr/leave.md": "indexed", "handbook/travel.md": "indexed"}
    leave = app.catalog.files_named(app.kb("hb").id, "handbook/hr/leave.md")[0]
    leave_chunks = [c.id for c in app.catalog.file_chunks(leave.id)]

    again = app.sources.sync("hb", str(folder))  # nothing changed: each file only hashed
    assert (again.unchanged, again.added, again.replaced, again.embedded, again.files) == (2, 0, 0, 0, [])

    # a rename, a change, a new file and a deletion at once
    (folder / "policies").mkdir()
    os.replace(folder / "hr" / "leave.md", folder / "policies" / "annual-leave.md")
    (folder / "travel.md").write_text(TRAVEL + "\nTaxis need a receipt.\n", encoding="utf-8")
    (folder / "parking.txt").write_text(PARKING, encoding="utf-8")
    report = app.sources.sync("hb", "handbook")
    outcomes = {f.name: (f.outcome, f.detail) for f in report.files}
    assert outcomes["handbook/policies/annual-leave.md"] == ("renamed", "from handbook/hr/leave.md")
    assert outcomes["handbook/travel.md"][0] == "replaced"
    assert outcomes["handbook/parking.txt"][0] == "added"
    assert (report.renamed, report.replaced, report.added, report.removed) == (1, 1, 1, 0)
    assert report.files_done == report.files_total == 3
    # the renamed file is the same record with the same chunks: nothing embedded again for it
    moved = app.catalog.files_named(app.kb("hb").id, "handbook/policies/annual-leave.md")[0]
    assert moved.id == leave.id and [c.id for c in app.catalog.file_chunks(moved.id)] == leave_chunks
    hits = app.search(["hb"], "annual leave days")
    assert hits and hits[0].file == "handbook/policies/annual-leave.md" and hits[0].file_id == leave.id

    (folder / "parking.txt").unlink()
    gone = app.sources.sync("hb", "handbook")
    assert [(f.name, f.outcome) for f in gone.files] == [("handbook/parking.txt", "removed")]
    assert set(names(app)) == {"handbook/policies/annual-leave.md", "handbook/travel.md"}
    assert all("garage" not in h.text for h in app.search(["hb"], "north garage cyclists"))
    assert app.sources.get("hb", "handbook").status == "idle"


def test_a_folder_added_before_is_adopted_and_other_files_are_left_alone(app: Zhiku, folder: Path,
                                                                         tmp_path: Path) -> None:
    app.create_kb("hb")
    app.add_files("hb", [folder])  # `zhiku kb add handbook/` names them handbook/...
    other = tmp_path / "notes.md"
    other.write_text("A note of its own about the canteen menu.\n", encoding="utf-8")
    app.add_files("hb", [other])
    app.sources.add("hb", folder)
    report = app.sources.sync("hb", "handbook")
    assert (report.unchanged, report.added, report.embedded) == (2, 0, 0)
    shutil.rmtree(folder / "hr")
    app.sources.sync("hb", "handbook")
    assert set(names(app)) == {"handbook/travel.md", "notes.md"}  # a file not of the folder stays


def test_bad_sources_are_refused_with_the_reason(app: Zhiku, folder: Path, tmp_path: Path) -> None:
    app.create_kb("hb")
    with pytest.raises(InvalidInput, match="no such folder"):
        app.sources.add("hb", tmp_path / "nope")
    with pytest.raises(InvalidInput, match="not a folder"):
        app.sources.add("hb", folder / "travel.md")
    app.sources.add("hb", folder)
    twin = tmp_path / "elsewhere" / "handbook"
    twin.mkdir(parents=True)
    with pytest.raises(Conflict, match="named 'handbook/...' too"):
        app.sources.add("hb", twin)
    with pytest.raises(NotFound):
        app.sources.sync("hb", "no-such-source")
    # a followed folder that disappears (an unmounted share) changes nothing
    app.sources.sync("hb", "handbook")
    shutil.move(str(folder), str(tmp_path / "moved-away"))
    with pytest.raises(NotFound, match="gone"):
        app.sources.sync("hb", "handbook")
    assert len(names(app)) == 2
    source = app.sources.get("hb", "handbook")
    assert source.status == "idle" and source.error and "gone" in source.error
    app.sources.remove("hb", source.id)
    assert app.sources.list_sources("hb") == [] and len(names(app)) == 2  # its files stay


def test_the_cli_follows_and_lists_folders(cli, home: Path, folder: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("kb", "create", "hb").code == 0
    r = cli("kb", "sync", "hb", str(folder), "--watch")
    assert r.code == 0, r.err
    assert "handbook: 2 added" in r.out and "watched while the server runs" in r.err
    (folder / "travel.md").unlink()
    r = cli("kb", "sync", "hb")  # no folder: every folder the KB follows
    assert r.code == 0 and "1 removed, 1 unchanged" in r.out
    r = cli("kb", "sources", "hb")
    assert r.code == 0 and "handbook/" in r.out and "yes" in r.out
    r = cli("kb", "sync", "hb", str(folder / "nope"))
    assert r.code != 0 and "no such folder" in r.err
    r = cli("kb", "unfollow", "hb", "handbook")
    assert r.code == 0 and "its files stay" in r.out
    r = cli("kb", "sync", "hb")
    assert r.code != 0 and "follows no folder" in r.err


@pytest.fixture
def served(home: Path) -> Iterator[tuple[Zhiku, str]]:
    app = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"},
                                                    "ingest": {"sync_poll_s": 0.2}}, environ={}))
    server = LiveServer(create_app(app), bind("127.0.0.1", 0), 5)
    try:
        yield app, server.url
    finally:
        server.stop()
        app.close()


def test_the_server_keeps_a_watched_folder_in_sync(served: tuple[Zhiku, str], folder: Path) -> None:
    app, url = served
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/api/kbs", json={"name": "hb"}).status_code == 201
        bad = http.post("/api/kbs/hb/sources", json={"path": str(folder / "travel.md")})
        assert bad.status_code == 400 and "not a folder" in bad.json()["error"]["message"]
        r = http.post("/api/kbs/hb/sources", json={"path": str(folder), "watch": True})
        assert r.status_code == 202, r.text
        sid = r.json()["id"]

        def source() -> dict:  # type: ignore[type-arg]
            got = http.get(f"/api/kbs/hb/sources/{sid}")
            assert got.status_code == 200
            return got.json()  # type: ignore[no-any-return]

        wait_until(lambda: source()["status"] == "idle" and source()["synced_at"], "the first sync")
        assert source()["report"]["added"] == 2

        # changed on disk while the server runs: the watcher syncs it
        os.replace(folder / "travel.md", folder / "hr" / "travel-policy.md")
        (folder / "parking.txt").write_text(PARKING, encoding="utf-8")
        (folder / "hr" / "leave.md").unlink()
        expected = {"handbook/hr/travel-policy.md", "handbook/parking.txt"}
        wait_until(lambda: set(names(app)) == expected and source()["status"] == "idle", "the watcher's sync")
        files = {f["name"]: f["outcome"] for f in source()["report"]["files"]}
        assert files.get("handbook/hr/travel-policy.md") == "renamed"

        listed = http.get("/api/kbs/hb/sources").json()
        assert [s["path"] for s in listed] == [str(folder)] and listed[0]["watch"] is True
        again = http.post(f"/api/kbs/hb/sources/{sid}/sync")
        assert again.status_code in (202, 409)  # 409 when the watcher is syncing it right now
        wait_until(lambda: source()["status"] == "idle", "the sync asked for")
        assert http.delete(f"/api/kbs/hb/sources/{sid}").status_code == 204
        assert http.get("/api/kbs/hb/sources").json() == []
        assert set(names(app)) == expected
