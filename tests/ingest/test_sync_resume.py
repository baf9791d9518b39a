"""A sync killed (SIGKILL, a real process) part way resumes: at the next server start, or by
running `zhiku kb sync` again; what the killed run committed is not ingested twice."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.ingest.test_sync import wait_until
from zhiku import Zhiku
from zhiku.config import load_settings

# the sync runs in a child process that kills itself (SIGKILL: no clean-up of any kind) once the
# first file is in and the second is being embedded
CHILD = textwrap.dedent("""
    import os, signal, sys
    from zhiku import Zhiku
    from zhiku.config import load_settings

    class Killer:
        done = 0
        def files_found(self, total): pass
        def chunks_embedded(self, n): pass
        def file_started(self, name, chunks):
            if self.done:
                os.kill(os.getpid(), signal.SIGKILL)
        def file_finished(self, name, outcome, detail=""):
            self.done += 1

    app = Zhiku(load_settings(home=sys.argv[1], overrides={"embedding": {"default": "static"}}, environ={}))
    app.create_kb("hb")
    app.sources.add("hb", sys.argv[2])
    app.sources.sync("hb", "handbook", progress=Killer())
    print("not killed")
""")


def killed_sync(home: Path, folder: Path) -> None:
    folder.mkdir()
    for i, topic in enumerate(["annual leave", "train tickets", "parking spaces"]):
        (folder / f"{i}.md").write_text(f"# Part {i}\n\nThe rules about {topic} are kept here.\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", CHILD, str(home), str(folder)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == -9 and "not killed" not in done.stdout, done.stderr


def open_app(home: Path) -> Zhiku:
    return Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}}, environ={}))


def test_the_server_resumes_a_killed_sync(home: Path, tmp_path: Path) -> None:
    killed_sync(home, tmp_path / "handbook")
    app = open_app(home)
    try:
        left = app.sources.get("hb", "handbook")
        assert left.status == "syncing" and app.sources.store.interrupted() == [left]
        assert {f.name: f.status for f in app.list_files("hb")} == {"handbook/0.md": "indexed"}
        app.sources.start_watching()  # what `zhiku start` does
        wait_until(lambda: app.sources.get("hb", "handbook").status == "idle", "the resumed sync")
        report = app.sources.get("hb", "handbook").report
        assert (report.unchanged, report.added, report.failed) == (1, 2, 0)
        assert sorted(f.name for f in app.list_files("hb")) == ["handbook/0.md", "handbook/1.md", "handbook/2.md"]
        assert all(f.status == "indexed" for f in app.list_files("hb"))
        assert app.check("hb") == []
    finally:
        app.close()


def test_running_the_sync_again_resumes_it(cli, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    killed_sync(home, tmp_path / "handbook")
    r = cli("kb", "sync", "hb")
    assert r.code == 0, r.err
    assert "2 added" in r.out and "1 unchanged" in r.out
    r = cli("kb", "files", "hb")
    assert r.out.count("indexed") == 3 and "pending" not in r.out
