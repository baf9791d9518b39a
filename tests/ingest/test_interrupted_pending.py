"""A file whose ingestion was interrupted (the process killed) no longer stays ``pending`` with its
stored copy until `kb check --repair` (issue 20, item 8): the next start of the app removes it, while
a file another live process is adding right then is left alone (it holds a lock the system releases
when that process dies)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from zhiku import Zhiku, load_settings
from zhiku.errors import Cancelled
from zhiku.ingest.pending import PendingLocks

CHILD = r"""
import signal, sys, time
from pathlib import Path
from zhiku import Zhiku, load_settings

# Ctrl-C raises KeyboardInterrupt, as in a terminal, even where the test runs as a background job
# (a shell starts those with SIGINT ignored, which Python then leaves ignored: the child slept on)
signal.signal(signal.SIGINT, signal.default_int_handler)

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
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            raise

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


KILLED_AT_RECORD = r"""
import os, signal, sys
from pathlib import Path
from zhiku import Zhiku, load_settings

app = Zhiku(load_settings(home=Path(sys.argv[1]), overrides={"embedding": {"default": "static"}}, environ={}))
write = app.catalog.add_pending_file

def written_then_killed(*args, **kwargs):  # the worst moment for a kill: the record has just been written
    write(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

app.catalog.add_pending_file = written_then_killed
app.add_files("kb", [sys.argv[2]])
"""


def test_a_kill_right_after_the_record_is_written_leaves_nothing_the_next_start_keeps(tmp_path: Path) -> None:
    """The lock is made before the record: a kill right after the record is written leaves a pending
    record whose lock is free, cleaned at the next start. (The record used to come first: a kill between
    the two left a pending record without a lock file, kept for a day, and running the same `kb add`
    again added the file a second time: 41 files of 40, once, in the crash test.)"""
    home = tmp_path / "home"
    app = _open(home)
    app.create_kb("kb")
    app.close()
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes\n\nThe file whose adder was killed.\n", encoding="utf-8")
    child = subprocess.run([sys.executable, "-c", KILLED_AT_RECORD, str(home), str(doc)], capture_output=True,
                           text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert child.returncode == -signal.SIGKILL, child.stderr
    app = _open(home)  # the next start
    try:
        kb = app.kb("kb")
        assert app.catalog.list_files(kb.id) == []
        assert app.check("kb") == []
        assert app.add_files("kb", [doc]).added == ["notes.md"]
        assert [(f.name, f.status) for f in app.catalog.list_files(kb.id)] == [("notes.md", "indexed")]
        assert list((home / "kbs" / kb.id / "adding").iterdir()) == []  # no lock file left behind
    finally:
        app.close()


def test_a_lock_reserved_for_a_record_never_written_is_litter_once_free(tmp_path: Path) -> None:
    locks = _locks(tmp_path)
    file_id, fd = locks.reserve("kb")
    assert locks.path("kb", file_id).exists() and not locks.interrupted("kb", file_id, LONG_AGO)
    assert locks.stale("kb", set()) == []  # held: a record about to be written
    os.close(fd)  # its process died before writing the record
    assert locks.stale("kb", set()) == [locks.path("kb", file_id)]
    other, fd2 = locks.reserve("kb")
    locks.release("kb", other, fd2)
    assert not locks.path("kb", other).exists()


# the locks themselves: deciding that a record was interrupted and taking it over are one step, so that
# of identical uploads at once only one resumes an interrupted record, and none takes over one being
# added (20 identical uploads at once once failed one with "removed while it was being added")

def _locks(tmp_path: Path) -> PendingLocks:
    return PendingLocks(tmp_path / "kbs")


LONG_AGO = datetime.now(timezone.utc) - timedelta(days=2)


def test_a_file_being_added_is_never_claimed_however_often_it_is_checked(tmp_path: Path) -> None:
    locks = _locks(tmp_path)
    checking = threading.Event()
    stop = threading.Event()

    def check() -> None:  # `interrupted` takes the lock for an instant each time it looks
        while not stop.is_set():
            locks.interrupted("kb", "f1", LONG_AGO)
            checking.set()

    checker = threading.Thread(target=check)
    checker.start()
    try:
        checking.wait(5)
        for _ in range(50):  # the adder starts while the checks run (the old adder went on unlocked then)
            with locks.holding("kb", "f1"):
                assert locks.path("kb", "f1").exists()
                assert not locks.interrupted("kb", "f1", LONG_AGO)
                assert locks.claim("kb", "f1", LONG_AGO) is None
            assert not locks.path("kb", "f1").exists()  # done: its lock file is gone
    finally:
        stop.set()
        checker.join()
    assert locks.claim("kb", "f1", datetime.now(timezone.utc)) is None  # no lock file, made just now
    assert list((tmp_path / "kbs" / "kb" / "adding").iterdir()) == []  # nothing made aside is left


def test_an_interrupted_file_is_claimed_by_exactly_one_of_many_at_once(tmp_path: Path) -> None:
    locks = _locks(tmp_path)
    with pytest.raises(Cancelled), locks.holding("kb", "f1"):
        raise Cancelled("stopped half-way")  # its lock file stays, unlocked: interrupted
    assert locks.interrupted("kb", "f1", LONG_AGO)
    barrier = threading.Barrier(20)
    got: list[int | None] = []

    def claim() -> None:
        barrier.wait()
        got.append(locks.claim("kb", "f1", LONG_AGO))

    threads = [threading.Thread(target=claim) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [fd] = [g for g in got if g is not None]
    assert not locks.interrupted("kb", "f1", LONG_AGO)  # claimed: being added again
    with locks.holding("kb", "f1", fd):
        assert locks.claim("kb", "f1", LONG_AGO) is None
    assert not locks.path("kb", "f1").exists()


def test_a_record_of_before_locks_is_claimed_only_when_old(tmp_path: Path) -> None:
    locks = _locks(tmp_path)
    assert locks.claim("kb", "f2", datetime.now(timezone.utc)) is None  # no lock file yet: just created
    fd = locks.claim("kb", "f2", LONG_AGO)  # no lock file and a day old: a crash before it was made
    assert fd is not None and locks.path("kb", "f2").exists()
    assert locks.claim("kb", "f2", LONG_AGO) is None
    with locks.holding("kb", "f2", fd):
        pass
    assert not locks.path("kb", "f2").exists()
