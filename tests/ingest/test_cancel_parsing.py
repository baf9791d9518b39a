"""A cancel takes effect while a long file is being parsed, not after (issue 20, item 2: a cancel sent
90 s into a 199 MB text took effect at 388 s). The loaders and the splitter ask at checkpoints (pages,
paragraphs, rows, blocks) and stop with ``Cancelled``; nothing of the file is embedded or indexed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from zhiku import Zhiku
from zhiku.errors import Cancelled
from zhiku.ingest.loaders import load_file

PARA = "知识库问答系统需要处理很大的上传文件。Uploads must never block other requests.\n\n"


class _Progress:
    def __init__(self) -> None:
        self.started: list[str] = []

    def files_found(self, total: int) -> None: ...
    def file_started(self, name: str, chunks: int) -> None:
        self.started.append(name)
    def chunks_embedded(self, n: int) -> None: ...
    def file_finished(self, name: str, outcome: str, detail: str = "") -> None: ...


def test_load_file_stops_at_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text(PARA * 20_000, encoding="utf-8")
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 10

    with pytest.raises(Cancelled):
        load_file(path, cancelled=cancelled)
    assert len(asked) == 11  # stopped at the first checkpoint after the cancel


def test_a_cancel_during_parsing_stops_the_ingestion_before_any_embedding(app: Zhiku, tmp_path: Path) -> None:
    app.create_kb("kb")
    path = tmp_path / "long.md"
    path.write_text("# Title\n\n" + PARA * 20_000, encoding="utf-8")
    parsing_asks = []

    def cancelled() -> bool:  # cancelled once the parse (on the ingest's prepare thread) has asked 5 times
        if threading.current_thread().name.startswith("zhiku-ingest-prepare"):
            parsing_asks.append(1)
        return len(parsing_asks) >= 5

    progress = _Progress()
    with pytest.raises(Cancelled):
        app.add_files("kb", [path], progress=progress, cancelled=cancelled)
    assert len(parsing_asks) == 5, "the parse went on after the cancel"
    assert progress.started == [], "a cancelled file was embedded"
    assert [f for f in app.catalog.list_files(app.kb("kb").id) if f.status == "indexed"] == []
