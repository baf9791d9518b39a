"""The KB page shows the KB's summary on request, labelled as extractive when no chat model wrote it
(Streamlit's AppTest against a real API server on 127.0.0.1)."""

from __future__ import annotations

from tests.api.conftest import LiveServer
from tests.ui.test_pages import page, plain, texts
from zhiku.client import ZhikuClient


def test_kb_page_shows_the_kb_summary_labelled(api: LiveServer, client: ZhikuClient, handbook: str) -> None:
    at = page("kbs")
    at.run()
    assert not at.exception, at.exception
    at.button(key=f"summary:{handbook}::show").click().run()
    assert not at.exception, at.exception
    shown = plain(texts(at))
    summary = client.summary(handbook)
    assert "抽取式摘要" in shown and summary.kind == "extractive"
    assert summary.text.splitlines()[0] in shown  # the KB's description leads it
    at.button(key=f"summary:{handbook}::again").click().run()
    assert not at.exception, at.exception
    assert client.summary(handbook).created_at > summary.created_at
    # the file table's summary column: the stored file summaries, marked extractive
    column = list(at.dataframe[0].value["摘要"])
    assert len(column) == 3 and all(c.startswith("（抽取）") for c in column)
