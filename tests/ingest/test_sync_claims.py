"""Who runs a folder's sync: a folder followed is claimed for its first sync as it is added, so a
watcher polling meanwhile cannot take it (the route that added it answered 409 when it did); asking to
follow a folder whose sync is running is answered with that sync. Real server, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.ingest.test_sync import names, wait_until
from zhiku import Zhiku
from zhiku.api import create_app
from zhiku.cli.commands_server import bind
from zhiku.config import load_settings
from zhiku.ingest.sync_store import WORKER
from zhiku.ingest.sync_watch import SourceWatcher
from zhiku.testing.live_server import LiveServer

COUNT = 32
RULE = "# Rule {i}\n\nRoom {i} of the north building is booked through the front desk, {i} days ahead.\n"


def make_folder(root: Path, i: int) -> Path:
    folder = root / f"dept{i:02d}"
    folder.mkdir(parents=True)
    (folder / "rules.md").write_text(RULE.format(i=i), encoding="utf-8")
    return folder


@pytest.fixture
def eager(home: Path) -> Iterator[tuple[Zhiku, str]]:
    """A server whose watcher looks at the followed folders as often as it may (each 0.1 s)."""
    app = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"},
                                                    "ingest": {"sync_poll_s": 0.1}}, environ={}))
    server = LiveServer(create_app(app), bind("127.0.0.1", 0), 5)
    try:
        yield app, server.url
    finally:
        server.stop()
        app.close()


def test_folders_followed_while_the_watcher_polls_all_start(eager: tuple[Zhiku, str], tmp_path: Path) -> None:
    app, url = eager
    folders = [make_folder(tmp_path / "share", i) for i in range(COUNT)]
    with httpx.Client(base_url=url, timeout=60) as http:
        assert http.post("/api/kbs", json={"name": "hb"}).status_code == 201

        def follow(f: Path) -> httpx.Response:
            return http.post("/api/kbs/hb/sources", json={"path": str(f), "watch": True})

        with ThreadPoolExecutor(8) as pool:  # as a script adding a share's folders would
            answers = list(pool.map(follow, folders))
        for r in answers:
            assert r.status_code == 202, r.text  # not 409: the watcher had not claimed it first
            assert r.json()["status"] == "syncing"
        ids = [r.json()["id"] for r in answers]

        def settled() -> bool:
            got = http.get("/api/kbs/hb/sources").json()
            return len(got) == COUNT and all(s["status"] == "idle" and s["synced_at"] for s in got)

        wait_until(settled, "every folder's first sync")
        for s in http.get("/api/kbs/hb/sources").json():
            assert s["error"] is None and s["id"] in ids
    assert set(names(app)) == {f"dept{i:02d}/rules.md" for i in range(COUNT)}
    assert set(names(app).values()) == {"indexed"}


class Held:
    """Progress that holds a sync inside its first file until released."""

    def __init__(self) -> None:
        self.inside, self.release = threading.Event(), threading.Event()

    def files_found(self, total: int) -> None: pass
    def chunks_embedded(self, n: int) -> None: pass
    def file_finished(self, name: str, outcome: str, detail: str = "") -> None: pass

    def file_started(self, name: str, chunks: int) -> None:
        self.inside.set()
        assert self.release.wait(60)


def test_following_a_folder_whose_sync_runs_answers_with_that_sync(eager: tuple[Zhiku, str], tmp_path: Path) -> None:
    app, url = eager
    folder = make_folder(tmp_path, 1)
    app.create_kb("hb")
    source, _ = app.sources.add("hb", folder)  # not watched: only the held sync runs
    held = Held()
    done: list[object] = []
    thread = threading.Thread(target=lambda: done.append(app.sources.sync("hb", source.id, progress=held)))
    thread.start()
    try:
        assert held.inside.wait(60)
        with httpx.Client(base_url=url, timeout=30) as http:
            r = http.post("/api/kbs/hb/sources", json={"path": str(folder), "watch": True})
            assert r.status_code == 202, r.text
            assert r.json()["id"] == source.id and r.json()["status"] == "syncing" and r.json()["watch"] is True
            again = http.post(f"/api/kbs/hb/sources/{source.id}/sync")  # asked for by id: still refused
            assert again.status_code == 409 and "being synced" in again.json()["error"]["message"]
    finally:
        held.release.set()
        thread.join(60)
    assert len(done) == 1 and names(app) == {"dept01/rules.md": "indexed"}


def test_a_new_folder_is_claimed_as_it_is_added(home: Path, tmp_path: Path) -> None:
    app = Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}}, environ={}))
    try:
        app.create_kb("hb")
        folder = make_folder(tmp_path, 2)
        followed = app.sources.follow("hb", folder, watch=True)
        assert followed.new and followed.claimed
        assert followed.source.status == "syncing" and followed.source.worker == WORKER

        # this process's watcher, polling now, leaves it to the caller
        watcher = SourceWatcher(app.sources.store, app.sources.syncer, app.catalog.get_kb_by_id, 60)
        watcher.poll()
        assert watcher.syncs == 0 and names(app) == {}

        # so does another process: `zhiku kb sync`, given the folder or not, names the sync that runs and
        # goes on with the KB's other folders
        make_folder(tmp_path, 3)
        env = {**os.environ, "ZHIKU_EMBEDDING__DEFAULT": "static"}
        cmd = [sys.executable, "-m", "zhiku", "--home", str(home), "kb", "sync", "hb"]
        other = subprocess.run([*cmd, str(folder), str(tmp_path / "dept03")], capture_output=True, text=True,
                               timeout=300, env=env)
        assert other.returncode == 0, other.stderr
        assert f"dept02: being synced by {WORKER} now" in other.stderr and "dept02: " not in other.stdout
        assert "dept03: 1 added" in other.stdout
        assert set(names(app)) == {"dept03/rules.md"}
        (tmp_path / "dept03" / "more.md").write_text(RULE.format(i=33), encoding="utf-8")
        other = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)  # every folder followed
        assert other.returncode == 0, other.stderr
        assert f"dept02: being synced by {WORKER} now" in other.stderr and "dept03: 1 added" in other.stdout
        assert "Traceback" not in other.stderr
        assert set(names(app)) == {"dept03/rules.md", "dept03/more.md"}

        report = app.sources.sync("hb", followed.source.id, claimed=followed.source)
        assert report.added == 1 and names(app)["dept02/rules.md"] == "indexed"
        assert app.sources.get("hb", "dept02").status == "idle"
        watcher.poll()  # nothing changed since: nothing to do
        assert watcher.syncs == 0
    finally:
        app.close()
