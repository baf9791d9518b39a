"""File chat's temporary knowledge bases: owned, hidden, kept alive by use, deleted when they
expire — by the background sweep and by the sweep at start."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.chat.files import TEMP_PREFIX
from zhiku.errors import NotFound
from zhiku.text.ids import now
from zhiku.store.db import temp_kbs
from zhiku.schema import AnswerRequest

DOC = ("notes.md", "# Travel\n\nTrain tickets above 500 yuan need the approval of a department head.\n")


def open_app(home: Path, **chat: Any) -> Zhiku:
    overrides = {"embedding": {"default": "static"}, "llm": {"detect_local": False}, "chat": chat}
    return Zhiku(load_settings(home=home, overrides=overrides, environ={}))


def upload(app: Zhiku, owner: str = "local") -> str:
    staging = app.stage_upload()
    staged = staging.add(DOC[0])
    staged.write(DOC[1].encode())
    staged.close()
    return app.temp_kbs.create(owner, staging).id


def wait_ready(app: Zhiku, tid: str, owner: str = "local") -> None:
    deadline = time.monotonic() + 60
    while app.temp_kbs.get(tid, owner).status == "ingesting":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert app.temp_kbs.get(tid, owner).status == "ready"


def ask(question: str, tid: str, owner: str = "local") -> AnswerRequest:
    return AnswerRequest(mode="file", question=question, temp_kb=tid, owner=owner)


def gone(app: Zhiku, tid: str) -> bool:
    return not any(kb.name == TEMP_PREFIX + tid for kb in app.catalog.list_kbs())


def test_answers_then_expires_at_the_sweep(home: Path) -> None:
    with open_app(home, temp_ttl_minutes=30) as app:
        app.start_jobs()
        tid = upload(app)  # asked at once: the answer waits for the file to be read
        answer = app.answer(ask("Which train tickets need approval?", tid))
        assert "department head" in answer.answer and answer.citations[0].file == "notes.md"
        assert app.list_kbs() == []  # hidden from listings
        expires = app.temp_kbs.get(tid, "local").expires_at
        assert app.temp_kbs.sweep(at=expires - timedelta(seconds=1)) == []  # not yet
        assert app.temp_kbs.sweep(at=expires + timedelta(seconds=1)) == [tid]
        assert gone(app, tid)
        with pytest.raises(NotFound):
            app.temp_kbs.get(tid, "local")
        with pytest.raises(NotFound):
            app.answer(ask("Which train tickets need approval?", tid))


def test_use_moves_the_expiry(home: Path) -> None:
    with open_app(home, temp_ttl_minutes=30) as app:
        app.start_jobs()
        tid = upload(app)
        wait_ready(app, tid)
        with app.engine.begin() as conn:  # as if uploaded 25 minutes ago
            conn.execute(update(temp_kbs).values(expires_at=now() + timedelta(minutes=5)))
        app.answer(ask("train tickets?", tid))
        assert app.temp_kbs.get(tid, "local").expires_at > now() + timedelta(minutes=29)


def test_other_owners_cannot_see_or_use_them(home: Path) -> None:
    with open_app(home) as app:
        app.start_jobs()
        tid = upload(app, owner="alice")
        wait_ready(app, tid, "alice")
        for call in (lambda: app.temp_kbs.get(tid, "bob"), lambda: app.temp_kbs.delete(tid, "bob"),
                     lambda: app.answer(ask("train tickets?", tid, owner="bob"))):
            with pytest.raises(NotFound):
                call()
        assert app.answer(ask("train tickets?", tid, owner="alice")).citations


def test_the_background_sweep_deletes_expired_ones(home: Path) -> None:
    with open_app(home, temp_ttl_minutes=0.005, sweep_interval_s=0.1) as app:  # 0.3 s to live
        create_app(app)  # starts the jobs and the sweeper, as the server does
        tid = upload(app)
        stored = app.settings.home / "kbs" / app.catalog.get_kb(TEMP_PREFIX + tid).id
        deadline = time.monotonic() + 30
        while not gone(app, tid) or stored.exists():  # the KB, and then its stored files
            assert time.monotonic() < deadline, "the sweeper did not delete the expired temporary KB"
            time.sleep(0.05)
        with pytest.raises(NotFound):
            app.temp_kbs.get(tid, "local")
        assert app.list_jobs() == []  # its ingestion job went too


def test_expired_ones_are_deleted_at_start(home: Path) -> None:
    with open_app(home) as app:
        app.start_jobs()
        tid = upload(app)
        wait_ready(app, tid)
        with app.engine.begin() as conn:  # the server was down when it expired
            conn.execute(update(temp_kbs).values(expires_at=now() - timedelta(minutes=1)))
    with open_app(home, sweep_interval_s=3600) as app:
        create_app(app)
        deadline = time.monotonic() + 30
        while not gone(app, tid):
            assert time.monotonic() < deadline, "expired temporary KB survived the start"
            time.sleep(0.05)
