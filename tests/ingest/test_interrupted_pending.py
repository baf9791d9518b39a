"""A file whose ingestion was interrupted (the process killed) no longer stays ``pending`` with its
stored copy until `kb check --repair` (issue 20, item 8): the next start of the app removes it, while
a file another live process is adding right then is left alone (it holds a lock the system releases
when that process dies)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from zhiku import Zhiku, load_settings

CHILD = r"""
import sys, time
from pathlib import Path
from zhiku import Zhiku, load_settings

app = Zhiku(load_settings(home=Path(sys.argv[1]), overrides={"embedding": {"default": "static"}}, environ={}))

class Progress:
    def files_found(self, total): pass
    def file_started(self, name, chunks):  # the record is pending and its copy stored: stop here
        print("ADDING", flush=True)
        time.sleep(600)
    def chunks_embedded(self, n): pass
    def file_finished(self, name, outcome, detail=""): pass

app.add_files("kb", [sys.argv[2]], progress=Progress())
"""


def _open(home: Path) -> Zhiku:
    return Zhiku(load_settings(home=home, overrides={"embedding": {"default": "static"}}, environ={}))


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT])  # killed; Ctrl-C
def test_an_interrupted_ingestion_is_cleaned_at_start_and_a_running_one_is_not(tmp_path: Path, stop: int) -> None:
    home = tmp_path / "home"
    app = _open(home)
    app.create_kb("kb")
    app.close()
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes\n\nThe interrupted file.\n", encoding="utf-8")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(home), str(doc)], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ADDING"
        app = _open(home)  # while the child is adding it
        kb = app.kb("kb")
        [pending] = app.catalog.list_files(kb.id)
        assert pending.status == "pending" and app.ingestor.stored_path(kb, pending.id).is_file()
        app.close()
    finally:
        os.kill(child.pid, stop)
        if child.wait(timeout=60) is None:
            child.kill()

    app = _open(home)  # the next start
    try:
        kb = app.kb("kb")
        assert app.catalog.list_files(kb.id) == []
        assert not app.ingestor.stored_path(kb, pending.id).exists()
        assert app.check("kb") == []
        report = app.add_files("kb", [doc])  # added again, as the log says to
        assert report.added == ["notes.md"]
    finally:
        app.close()
