"""The web UI shows a cited passage's pictures: the passage dialog (``zhiku.ui.citations``, what a
click on ``[n]`` opens) fetches each of the citation's ``images`` through the client from a real
API server on 127.0.0.1 and shows it; a picture the server no longer has is one readable line."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from tests.api.conftest import OVERRIDES, LiveServer
from tests.ingest.test_pictures import drawing, make_docx
from zhiku import Zhiku, load_settings
from zhiku.client import ZhikuClient
from zhiku.ui import context


@pytest.fixture
def served(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ZhikuClient, Zhiku]]:
    monkeypatch.setenv("ZHIKU_DISABLE_OCR", "1")
    zk = Zhiku(load_settings(home=home, overrides=OVERRIDES, environ={}))
    server = LiveServer(zk)
    context.configure(server.url)
    with ZhikuClient(server.url) as client:
        zk.create_kb("pics")
        zk.add_files("pics", [make_docx(tmp_path / "figures.docx", [drawing(21)])])
        yield client, zk
    server.stop()
    zk.close()


def _script(citation: dict) -> None:
    from types import SimpleNamespace

    from zhiku.ui.citations import open_passage

    open_passage(SimpleNamespace(**citation), "m1-d1")


def test_the_passage_dialog_shows_the_pictures_the_passage_shows(served: tuple[ZhikuClient, Zhiku],
                                                                  home: Path) -> None:
    client, _ = served
    reply = client.chat("kb", "Text before the pictures", kbs=["pics"])
    cited = next(c for c in reply.citations if c.images)
    assert cited.images == [hashlib.sha256(drawing(21)).hexdigest()]
    at = AppTest.from_function(_script, args=(cited.model_dump(),), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert len(at.get("image")) == 1  # the picture, fetched from GET .../images/{id}
    for p in (home / "kbs").rglob(f"{cited.images[0]}.png"):  # gone from the server: a line saying so
        p.unlink()
    gone = AppTest.from_function(_script, args=(cited.model_dump(),), default_timeout=60)
    gone.run()
    assert not gone.exception, gone.exception
    assert len(gone.get("image")) == 0
    assert any("no longer stored" in c.value for c in gone.caption), [c.value for c in gone.caption]
